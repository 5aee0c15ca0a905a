import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { LOCAL_ACCOUNT_ID, LOCAL_MARKETPLACE_PRODUCT_CODE } from '../platform/config.js';

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

const requireCjs = createRequire(import.meta.url);

export function serviceDirectory(home: string, service: LocalService): string {
  return path.join(home, service);
}

/** Starts one emulator on an ephemeral loopback port, its state under `home/<service>`. */
export async function startService(
  home: string,
  service: LocalService,
  region: string,
): Promise<RunningService> {
  const directory = serviceDirectory(home, service);
  await mkdir(directory, { recursive: true });
  switch (service) {
    case 'dynamodb': {
      const dynalite = requireCjs('dynalite') as typeof import('dynalite').default;
      return listen(dynalite({ path: directory, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }));
    }
    case 'kinesis': {
      const kinesalite = requireCjs('kinesalite') as typeof import('kinesalite').default;
      return listen(kinesalite({ path: directory, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0 }));
    }
    case 's3': {
      const S3rver = requireCjs('s3rver') as typeof import('s3rver').default;
      const server = new S3rver({ port: 0, address: '127.0.0.1', directory, silent: true });
      const address = await server.run();
      return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => server.close() };
    }
    case 'cognito':
      return startCognito(directory);
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
 * its parent goes away (the IPC channel closes).
 */
async function startCognito(directory: string): Promise<RunningService> {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const entry = path.join(path.dirname(here), `cognito-server.${fromSource ? 'ts' : 'js'}`);
  const child = fork(entry, [], {
    cwd: directory,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0' },
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
