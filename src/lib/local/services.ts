import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { LOCAL_ACCOUNT_ID, LOCAL_MARKETPLACE_PRODUCT_CODE } from '../platform/config.js';
import type { TenantReader } from '../runtime/tenant-access.js';

/** The emulators the local stack runs: third-party ones, and the project's own (emulators/). */
export const LOCAL_SERVICES = [
  'dynamodb',
  's3',
  'kinesis',
  'cognito',
  'kms',
  'organizations',
  'marketplace',
  'sts',
  'postgres',
] as const;
export type LocalService = (typeof LOCAL_SERVICES)[number];

/**
 * Services `local start` leaves for a command to ask for: PostgreSQL costs an initdb (~1.3 s)
 * and a server process, and only relational features use it.
 */
export const ON_DEMAND_SERVICES: readonly LocalService[] = ['postgres'];

export interface RunningService {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** What a service needs from the rest of the stack. */
export interface ServiceContext {
  /**
   * The catalog the pre-token trigger reads (cognito): without it, cognito-local runs no
   * trigger and its tokens carry no tenant claims.
   */
  readonly tenants?: TenantReader;
}

const requireCjs = createRequire(import.meta.url);

export function serviceDirectory(home: string, service: LocalService): string {
  return path.join(home, service);
}

/** Starts one emulator on an ephemeral loopback port, its state under `home/<service>`. */
export async function startService(
  home: string,
  service: LocalService,
  region: string,
  context: ServiceContext = {},
): Promise<RunningService> {
  const directory = serviceDirectory(home, service);
  await mkdir(directory, { recursive: true });
  switch (service) {
    case 'dynamodb': {
      const dynalite = requireCjs('dynalite') as typeof import('dynalite').default;
      const server = dynalite({ path: directory, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
      // Tenant sessions' requests are judged against their session policy first (IAM for dynalite).
      const { guardDynamoDb } = await import('./emulators/dynamodb-guard.js');
      const { storedSessions } = await import('./emulators/sts.js');
      const [inner] = server.listeners('request') as RequestListener[];
      server.removeAllListeners('request');
      server.on(
        'request',
        guardDynamoDb(inner as RequestListener, {
          region,
          accountId: LOCAL_ACCOUNT_ID,
          session: storedSessions(serviceDirectory(home, 'sts')),
        }),
      );
      return listen(server);
    }
    case 'kinesis': {
      const kinesalite = requireCjs('kinesalite') as typeof import('kinesalite').default;
      return listen(kinesalite({ path: directory, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0 }));
    }
    case 's3': {
      const S3rver = requireCjs('s3rver') as typeof import('s3rver').default;
      const server = new S3rver({ port: 0, address: '127.0.0.1', directory, silent: true });
      const address = await server.run();
      // Tenant sessions' requests are judged against their session policy first (IAM for s3rver).
      const { guardS3 } = await import('./emulators/s3-guard.js');
      const { storedSessions } = await import('./emulators/sts.js');
      const http = (server as unknown as { httpServer: Server }).httpServer;
      const s3rverAccount = (
        requireCjs('s3rver/lib/models/account') as {
          DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secret: string): void };
        }
      ).DUMMY_ACCOUNT;
      const [inner] = http.listeners('request') as RequestListener[];
      http.removeAllListeners('request');
      http.on(
        'request',
        guardS3(inner as RequestListener, {
          session: storedSessions(serviceDirectory(home, 'sts')),
          admit: (accessKeyId) => s3rverAccount.createKeyPair(accessKeyId, accessKeyId),
        }),
      );
      return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => server.close() };
    }
    case 'cognito':
      return startCognito(directory, region, context.tenants);
    case 'kms': {
      const { startKmsEmulator } = await import('./emulators/kms.js');
      return startKmsEmulator({ directory, region, accountId: LOCAL_ACCOUNT_ID });
    }
    case 'organizations': {
      const { startOrganizationsEmulator } = await import('./emulators/organizations.js');
      return startOrganizationsEmulator({ directory, accountId: LOCAL_ACCOUNT_ID });
    }
    case 'marketplace': {
      const { startMarketplaceEmulator } = await import('./emulators/marketplace.js');
      return startMarketplaceEmulator({ directory, productCodes: [LOCAL_MARKETPLACE_PRODUCT_CODE] });
    }
    case 'sts': {
      const { startStsEmulator } = await import('./emulators/sts.js');
      return startStsEmulator({ directory, accountId: LOCAL_ACCOUNT_ID });
    }
    case 'postgres': {
      const { startEmbeddedPostgres } = await import('./postgres.js');
      return startEmbeddedPostgres(directory);
    }
  }
}

async function listen(server: Server): Promise<RunningService> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * cognito-local keeps its state relative to the working directory and loads aws-sdk v2
 * (~0.5 s), so it runs in a child process whose cwd is its state folder. The child exits when
 * its parent goes away (the IPC channel closes). Its PreTokenGeneration trigger calls the local
 * Lambda emulator in this process, which is started first: cognito-local reads the trigger's
 * endpoint from `.cognito/config.json` once, as it loads.
 */
async function startCognito(
  directory: string,
  region: string,
  tenants?: TenantReader,
): Promise<RunningService> {
  let lambda: RunningService | undefined;
  let trigger: { endpoint: string; region: string; name: string } | undefined;
  if (tenants) {
    const { startLambdaEmulator, preTokenFunction, LOCAL_PRE_TOKEN_FUNCTION } =
      await import('./emulators/lambda.js');
    lambda = await startLambdaEmulator({
      functions: { [LOCAL_PRE_TOKEN_FUNCTION]: preTokenFunction(tenants) },
      region,
      accountId: LOCAL_ACCOUNT_ID,
    });
    trigger = { endpoint: lambda.endpoint, region, name: LOCAL_PRE_TOKEN_FUNCTION };
  }
  try {
    await writeCognitoConfig(directory, trigger);
    const child = await forkCognito(directory);
    return {
      endpoint: child.endpoint,
      stop: async () => {
        await child.stop();
        await lambda?.stop();
      },
    };
  } catch (err) {
    await lambda?.stop();
    throw err;
  }
}

/**
 * The stack's own file, rewritten on every start: the emulator's port changes each time, and a
 * start without a trigger must not keep the last one's (triggers are global in cognito-local).
 */
async function writeCognitoConfig(
  directory: string,
  trigger?: { endpoint: string; region: string; name: string },
): Promise<void> {
  const config = trigger
    ? {
        LambdaClient: {
          endpoint: trigger.endpoint,
          region: trigger.region,
          // aws-sdk v2 signs every request; the emulator does not check signatures.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          // Cognito gives a trigger 5 seconds and does not retry a failed one.
          maxRetries: 0,
          httpOptions: { timeout: 5000 },
        },
        TriggerFunctions: { PreTokenGeneration: trigger.name },
      }
    : { TriggerFunctions: {} };
  const folder = path.join(directory, '.cognito');
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

async function forkCognito(directory: string): Promise<RunningService> {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const entry = path.join(path.dirname(here), `cognito-server.${fromSource ? 'ts' : 'js'}`);
  const child = fork(entry, [], {
    cwd: directory,
    // The child listens on an ephemeral port and sets PORT itself before loading cognito-local.
    env: { ...process.env, HOST: '127.0.0.1' },
    execArgv: fromSource ? ['--import', pathToFileURL(requireCjs.resolve('tsx')).href] : [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port?: number; error?: string }) => {
      if (message.port) resolve(message.port);
      else reject(new Error(`cognito-local failed to start: ${message.error ?? 'no port'}`));
    });
    child.once('exit', (code) =>
      reject(new Error(`cognito-local exited with code ${code}: ${stderr.trim()}`)),
    );
  });
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
