import { AwsClientFactory } from '../../src/lib/platform/clients.js';
import {
  parsePlatformConfig,
  platformParameterName,
  type PlatformConfig,
} from '../../src/lib/platform/config.js';
import type { Platform } from '../../src/lib/platform/platform.js';
import { sdk } from '../../src/lib/platform/sdk.js';

/**
 * What every Lambda entry point shares: the platform configuration from the same SSM parameter
 * the CLI reads (`/saasctl/<stage>/platform`, written by the ControlPlaneStack), read once per
 * container, and one client factory. The stage and the parameter's region come from the
 * function's environment (SAASCTL_STAGE, SAASCTL_PLATFORM_REGION). platform.ts's own loader is
 * not imported: its module reaches the local stack (emulators, embedded PostgreSQL), which has
 * no place in a Lambda bundle.
 */
let platform: Promise<Platform> | undefined;

export function lambdaPlatform(): Promise<Platform> {
  platform ??= open().catch((err: unknown) => {
    platform = undefined; // a failed read is retried by the next invocation
    throw err;
  });
  return platform;
}

async function open(): Promise<Platform> {
  const stage = requiredEnv('SAASCTL_STAGE');
  const region = process.env.SAASCTL_PLATFORM_REGION || requiredEnv('AWS_REGION');
  const clients = new AwsClientFactory({ region, userAgent: 'saasctl-lambda' });
  const config = await loadConfig(clients, stage);
  const actor = `lambda:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'unknown'}`;
  return {
    target: { name: 'aws', stage, region },
    config,
    clients,
    actor: async () => actor,
    close: async () => clients.destroy(),
  };
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`The function's environment lacks ${name} (set by the infra app).`);
  return value;
}

async function loadConfig(clients: AwsClientFactory, stage: string): Promise<PlatformConfig> {
  const name = platformParameterName(stage);
  const { Parameter } = await clients.ssm().send(new (sdk.ssm().GetParameterCommand)({ Name: name }));
  return parsePlatformConfig(Parameter?.Value ?? '', `in SSM parameter ${name}`);
}
