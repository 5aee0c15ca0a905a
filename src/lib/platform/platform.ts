import { userInfo } from 'node:os';

import type { LocalService } from '../local/services.js';
import { AwsClientFactory, DEFAULT_MAX_ATTEMPTS } from './clients.js';
import { parsePlatformConfig, platformParameterName, type PlatformConfig } from './config.js';
import { sdk } from './sdk.js';
import type { Target } from './target.js';
import { ExitCode, SaasctlError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';

/** What a command works against: the target, its resource names and its AWS clients. */
export interface Platform {
  readonly target: Target;
  readonly config: PlatformConfig;
  readonly clients: AwsClientFactory;
  /** Who is acting, for audit records: the AWS identity on aws, the OS user on local. */
  actor(): Promise<string>;
  /**
   * The pooled PostgreSQL database: the owner's and the app role's connection strings. Local: the
   * embedded cluster (the command must list `postgres` among its services). AWS: the database is
   * reachable only inside the pool's VPC, so it comes from SAASCTL_DATABASE_URL (owner) and
   * SAASCTL_APP_DATABASE_URL (app role), set by whoever runs saasctl there.
   */
  database(): Promise<DatabaseUrls>;
  close(): Promise<void>;
}

export interface DatabaseUrls {
  /** The schema owner's connection (migrations, audits); the runtime has none. */
  readonly owner?: string;
  /** The NOSUPERUSER NOBYPASSRLS app role's connection (tenant transactions); audits need none. */
  readonly app?: string;
}

export interface OpenOptions {
  /** The local services the command needs; the local stack starts only those. */
  readonly services: readonly LocalService[];
  readonly userAgent?: string;
  /** Told when the local stack is started or reused. */
  readonly reporter?: Reporter;
}

export async function openPlatform(target: Target, options: OpenOptions): Promise<Platform> {
  return target.name === 'local' ? openLocal(target, options) : openAws(target, options);
}

async function openLocal(target: Target, options: OpenOptions): Promise<Platform> {
  const { connect, localClients } = await import('../local/stack.js');
  const step = options.reporter?.step('local stack');
  const session = await connect({
    home: target.home as string,
    stage: target.stage,
    region: target.region,
    services: options.services,
  });
  if (session.owner) step?.done(`started ${options.services.join(', ')} for this command`);
  else step?.skipped(`running, pid ${session.info.pid}`);
  const clients = localClients(session.info.endpoints, target.region);
  return {
    target,
    config: session.info.platform,
    clients,
    actor: async () => `local:${osUser()}`,
    database: async () => {
      const owner = session.info.endpoints.postgres;
      if (!owner) {
        throw new SaasctlError('DATABASE_NOT_STARTED', 'This command did not start the local PostgreSQL.', {
          actions: ["List 'postgres' in the command's localServices."],
        });
      }
      const { appConnectionString } = await import('../local/postgres.js');
      const { serviceDirectory } = await import('../local/services.js');
      return {
        owner,
        app: await appConnectionString(serviceDirectory(session.info.home, 'postgres'), owner),
      };
    },
    close: async () => {
      clients.destroy();
      await session.release();
    },
  };
}

async function openAws(target: Target, options: OpenOptions): Promise<Platform> {
  const clients = new AwsClientFactory({
    region: target.region,
    profile: target.profile,
    maxAttempts: maxAttempts(process.env.SAASCTL_MAX_ATTEMPTS),
    userAgent: options.userAgent,
  });
  const config = await loadAwsConfig(clients, target.stage);
  let identity: Promise<string> | undefined;
  return {
    target,
    config,
    clients,
    actor: () => (identity ??= callerArn(clients)),
    database: async () => awsDatabaseUrls(process.env),
    close: async () => clients.destroy(),
  };
}

/** Reads `/saasctl/<stage>/platform`, the parameter the CDK app writes. */
export async function loadAwsConfig(clients: AwsClientFactory, stage: string): Promise<PlatformConfig> {
  const { GetParameterCommand } = sdk.ssm();
  const name = platformParameterName(stage);
  try {
    const { Parameter } = await clients.ssm().send(new GetParameterCommand({ Name: name }));
    return parsePlatformConfig(Parameter?.Value ?? '', `in SSM parameter ${name}`);
  } catch (err) {
    if ((err as Error).name === 'ParameterNotFound') {
      throw new SaasctlError(
        'PLATFORM_NOT_DEPLOYED',
        `No SSM parameter ${name}: stage "${stage}" is not deployed here.`,
        {
          exitCode: 3,
          cause: err,
          actions: ['Check --stage, --region and --profile, or deploy the infra app for this stage.'],
        },
      );
    }
    throw err;
  }
}

export function awsDatabaseUrls(env: NodeJS.ProcessEnv): DatabaseUrls {
  const owner = env.SAASCTL_DATABASE_URL;
  const app = env.SAASCTL_APP_DATABASE_URL;
  if (!owner && !app) {
    throw new SaasctlError(
      'DATABASE_NOT_CONFIGURED',
      'The pooled PostgreSQL database is reachable only inside its VPC: set SAASCTL_DATABASE_URL (owner) and/or SAASCTL_APP_DATABASE_URL (app role) where saasctl runs there.',
      { exitCode: ExitCode.usage, actions: ["Take them from the Pool stack's owner and app secrets."] },
    );
  }
  return { ...(owner ? { owner } : {}), ...(app ? { app } : {}) };
}

/** SAASCTL_MAX_ATTEMPTS when it is a whole number from 1 to 10, else the default. */
export function maxAttempts(value: string | undefined): number {
  const attempts = Number(value);
  return Number.isInteger(attempts) && attempts >= 1 && attempts <= 10 ? attempts : DEFAULT_MAX_ATTEMPTS;
}

async function callerArn(clients: AwsClientFactory): Promise<string> {
  const { GetCallerIdentityCommand } = sdk.sts();
  const { Arn } = await clients.sts().send(new GetCallerIdentityCommand({}));
  return Arn ?? `unknown:${osUser()}`;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
