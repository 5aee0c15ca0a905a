import { createRequire } from 'node:module';

import { AwsClientFactory } from '../../src/lib/platform/clients.js';
import {
  parsePlatformConfig,
  platformParameterName,
  type PlatformConfig,
} from '../../src/lib/platform/config.js';
import type { DatabaseUrls, Platform } from '../../src/lib/platform/platform.js';
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
// The runtime's SDK packages are provided by Lambda, not bundled.
const requireCjs = createRequire(import.meta.url);

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
  let database: Promise<DatabaseUrls> | undefined;
  const actor = `lambda:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'unknown'}`;
  return {
    target: { name: 'aws', stage, region },
    config,
    clients,
    actor: async () => actor,
    database: () => (database ??= appDatabase(region)),
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

interface SecretsManagerModule {
  SecretsManagerClient: new (config: { region?: string }) => {
    send(command: unknown): Promise<{ SecretString?: string }>;
  };
  GetSecretValueCommand: new (input: { SecretId: string }) => unknown;
}

/**
 * The app role's connection to the pooled database: user and password from the secret the Pool
 * stack names in SAASCTL_DB_APP_SECRET, the cluster's host from SAASCTL_DB_HOST (the app secret,
 * unlike the cluster's own, holds no address), database `saasctl` unless SAASCTL_DB_NAME says
 * otherwise. TLS is verified against the RDS CAs (NODE_EXTRA_CA_CERTS, set by the stack).
 * Functions never hold the owner's secret.
 */
async function appDatabase(region: string): Promise<DatabaseUrls> {
  const secretId = requiredEnv('SAASCTL_DB_APP_SECRET');
  const sm = requireCjs('@aws-sdk/client-secrets-manager') as SecretsManagerModule;
  const client = new sm.SecretsManagerClient({ region });
  const { SecretString } = await client.send(new sm.GetSecretValueCommand({ SecretId: secretId }));
  return { app: appDatabaseUrl(JSON.parse(SecretString ?? '{}') as Record<string, unknown>, process.env) };
}

/** The app role's connection string from its secret and the function's environment. */
export function appDatabaseUrl(secret: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  const host = secret.host ?? env.SAASCTL_DB_HOST;
  if (!host || !secret.username || !secret.password) {
    throw new Error('The app role secret and SAASCTL_DB_HOST do not give a host, a username and a password.');
  }
  const url = new URL('postgres://placeholder');
  url.hostname = String(host);
  url.port = String(secret.port ?? 5432);
  url.username = encodeURIComponent(String(secret.username));
  url.password = encodeURIComponent(String(secret.password));
  url.pathname = `/${String(secret.dbname ?? env.SAASCTL_DB_NAME ?? 'saasctl')}`;
  url.searchParams.set('sslmode', 'verify-full');
  return url.toString();
}
