import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { ExitCode, SaasctlError } from '../cli/errors.js';
import { AwsClientFactory } from '../platform/clients.js';
import { localPlatformConfig, type PlatformConfig } from '../platform/config.js';
import type { TenantReader } from '../runtime/tenant-access.js';
import type { Tenant } from '../tenants/model.js';
import { bootstrapService } from './bootstrap.js';
import { LOCAL_SERVICES, startService, type LocalService, type RunningService } from './services.js';

/**
 * One process owns a home at a time: it holds `stack.lock`, runs the emulators, and serves a
 * small control API on loopback. Any other saasctl process on the same home leases the running
 * stack through that API instead of opening the emulators' files itself; the owner stops only
 * when its own work is done and no lease is left. That is how two one-shot commands at once
 * share one stack without corrupting its state.
 */
export type StackMode = 'daemon' | 'session';

export interface StackInfo {
  readonly pid: number;
  readonly mode: StackMode;
  readonly home: string;
  readonly controlUrl: string;
  readonly startedAt: string;
  readonly stopping: boolean;
  readonly endpoints: Partial<Record<LocalService, string>>;
  readonly leases: number[];
  readonly platform: PlatformConfig;
  /** The sample API's address, when `local start` serves it. */
  readonly api?: string;
}

/** Credentials every local emulator accepts (s3rver's default key pair). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface StackOptions {
  readonly home: string;
  readonly stage: string;
  readonly region: string;
}

export function stackFiles(home: string): { lock: string; info: string; log: string } {
  return {
    lock: path.join(home, 'stack.lock'),
    info: path.join(home, 'stack.json'),
    log: path.join(home, 'stack.log'),
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function localClients(
  endpoints: Partial<Record<LocalService, string>>,
  region: string,
): AwsClientFactory {
  return new AwsClientFactory({ region, endpoints, credentials: LOCAL_CREDENTIALS, maxAttempts: 2 });
}

/** The process that runs the emulators. */
export class StackOwner {
  private readonly services = new Map<LocalService, RunningService>();
  private readonly starting = new Map<LocalService, Promise<void>>();
  private readonly leases = new Set<number>();
  private userPool: PlatformConfig['userPool'] = { id: '', clientId: '' };
  private stopping = false;
  private publishing: Promise<void> = Promise.resolve();
  private stopped?: Promise<void>;
  private server?: Server;
  private controlUrl = '';
  private api?: string;
  private readonly startedAt = new Date().toISOString();
  /** The control-plane catalog the pre-token trigger reads, opened on its first use. */
  private catalog?: Promise<{ get(tenantId: string): Promise<Tenant | undefined>; destroy(): void }>;
  private stopRequested?: () => void;
  /** Resolves when `local stop` (or a signal) asks a daemon to stop. */
  readonly stopSignal: Promise<void>;

  private constructor(
    private readonly options: StackOptions,
    readonly mode: StackMode,
  ) {
    this.stopSignal = new Promise((resolve) => (this.stopRequested = resolve));
  }

  /** Takes the home's lock, or returns undefined when a live process holds it. */
  static async tryAcquire(options: StackOptions, mode: StackMode): Promise<StackOwner | undefined> {
    await mkdir(options.home, { recursive: true });
    if (!(await takeLock(stackFiles(options.home).lock))) return undefined;
    const owner = new StackOwner(options, mode);
    process.on('exit', owner.releaseOnExit);
    try {
      await owner.listen();
    } catch (err) {
      await rm(stackFiles(options.home).lock, { force: true });
      throw err;
    }
    return owner;
  }

  info(): StackInfo {
    const endpoints: Partial<Record<LocalService, string>> = {};
    for (const [name, service] of this.services) endpoints[name] = service.endpoint;
    return {
      pid: process.pid,
      mode: this.mode,
      home: this.options.home,
      controlUrl: this.controlUrl,
      startedAt: this.startedAt,
      stopping: this.stopping,
      endpoints,
      leases: [...this.leases],
      platform: localPlatformConfig(this.options.stage, this.options.region, this.userPool),
      ...(this.api ? { api: this.api } : {}),
    };
  }

  /** Records where the sample API answers, for `local status` and other tools. */
  async announceApi(url: string): Promise<void> {
    this.api = url;
    await this.publish();
  }

  /** Starts the services that are not running yet and creates their resources. */
  async ensure(services: readonly LocalService[]): Promise<StackInfo> {
    await Promise.all(services.map((service) => this.ensureOne(service)));
    await this.publish();
    return this.info();
  }

  /**
   * Stops once every lease is released (leases of processes that died are dropped). Safe to
   * call more than once.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    await this.publish().catch(() => undefined);
    while (this.pruneLeases() > 0) await sleep(50);
    await Promise.allSettled(this.starting.values());
    await Promise.allSettled([...this.services.values()].map((s) => s.stop()));
    this.services.clear();
    (await this.catalog?.catch(() => undefined))?.destroy();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    const files = stackFiles(this.options.home);
    await rm(files.info, { force: true });
    await rm(files.lock, { force: true });
    process.removeListener('exit', this.releaseOnExit);
  }

  /**
   * A process that exits without stopping (Ctrl-C while the stack starts, an uncaught error)
   * still gives the home back: the emulators die with it, and this removes its files.
   */
  private readonly releaseOnExit = (): void => {
    const files = stackFiles(this.options.home);
    for (const entry of readdirSync(this.options.home)) {
      if (entry.startsWith(`${path.basename(files.info)}.${process.pid}.`)) {
        rmSync(path.join(this.options.home, entry), { force: true });
      }
    }
    rmSync(files.info, { force: true });
    rmSync(files.lock, { force: true });
  };

  private pruneLeases(): number {
    for (const pid of this.leases) if (!isAlive(pid)) this.leases.delete(pid);
    return this.leases.size;
  }

  private ensureOne(service: LocalService): Promise<void> {
    if (this.services.has(service)) return Promise.resolve();
    let pending = this.starting.get(service);
    if (!pending) {
      pending = (async () => {
        const running = await startService(
          this.options.home,
          service,
          this.options.region,
          service === 'cognito' ? { tenants: await this.triggerTenants() } : {},
        );
        this.services.set(service, running);
        const clients = localClients({ [service]: running.endpoint }, this.options.region);
        try {
          const pool = await bootstrapService(
            service,
            clients,
            this.options.home,
            this.options.stage,
            this.options.region,
          );
          if (pool.id && pool.clientId) this.userPool = { id: pool.id, clientId: pool.clientId };
        } finally {
          clients.destroy();
        }
      })().finally(() => this.starting.delete(service));
      this.starting.set(service, pending);
    }
    return pending;
  }

  /**
   * What cognito-local's pre-token trigger reads: the control-plane catalog in the local
   * DynamoDB, which may start after cognito, so it is started (and published) when the first
   * token is asked for. No cache: on the local stack a suspension bites on the very next sign-in,
   * as operators and tests expect; on AWS the trigger caches tenants for 30 seconds.
   */
  private async triggerTenants(): Promise<TenantReader> {
    const { CachedTenantReader } = await import('../runtime/tenant-access.js');
    const source: TenantReader = {
      get: async (tenantId) => {
        this.catalog ??= this.openCatalog();
        const catalog = await this.catalog.catch((err: unknown) => {
          this.catalog = undefined;
          throw err;
        });
        return catalog.get(tenantId);
      },
    };
    return new CachedTenantReader(source, { ttlMs: 0, missingTtlMs: 0 });
  }

  private async openCatalog(): Promise<{
    get(tenantId: string): Promise<Tenant | undefined>;
    destroy(): void;
  }> {
    if (this.stopping) throw new Error('The local stack is stopping.');
    const { endpoints, platform } = await this.ensure(['dynamodb']);
    const { TenantCatalog } = await import('../tenants/catalog.js');
    const clients = localClients({ dynamodb: endpoints.dynamodb }, this.options.region);
    const catalog = new TenantCatalog(clients.documents(), platform.tables.controlPlane);
    return { get: (tenantId) => catalog.get(tenantId), destroy: () => clients.destroy() };
  }

  /** Writes stack.json atomically; writes are queued so a later state never loses to an earlier one. */
  private publish(): Promise<void> {
    const file = stackFiles(this.options.home).info;
    const write = async (): Promise<void> => {
      const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
      await writeFile(temporary, JSON.stringify(this.info(), null, 2));
      await rename(temporary, file);
    };
    this.publishing = this.publishing.then(write, write);
    return this.publishing;
  }

  private async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => respond(res, 500, { error: String(err) }));
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(0, '127.0.0.1', () => resolve());
    });
    this.controlUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    await this.publish();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.controlUrl);
    if (req.method === 'GET' && url.pathname === '/') return respond(res, 200, this.info());
    if (req.method === 'POST' && url.pathname === '/leases') {
      const body = JSON.parse(await readBody(req)) as { pid: number; services: LocalService[] };
      if (this.stopping) return respond(res, 503, { error: 'stopping' });
      this.leases.add(body.pid);
      const services = body.services.filter((s) => (LOCAL_SERVICES as readonly string[]).includes(s));
      try {
        return respond(res, 200, await this.ensure(services));
      } catch (err) {
        this.leases.delete(body.pid);
        return respond(res, 500, { error: err instanceof Error ? err.message : String(err) });
      }
    }
    const lease = /^\/leases\/(\d+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && lease) {
      this.leases.delete(Number(lease[1]));
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/stop') {
      respond(res, 202, { stopping: true });
      this.stopRequested?.();
      return;
    }
    respond(res, 404, { error: 'not found' });
  }
}

/** A process's use of the stack: endpoints and config, and how to let go of it. */
export interface StackSession {
  readonly info: StackInfo;
  /** The owner, when this process runs the emulators itself. */
  readonly owner?: StackOwner;
  release(): Promise<void>;
}

export interface ConnectOptions extends StackOptions {
  readonly services: readonly LocalService[];
  /** How long to wait for another process's stack to finish starting or stopping. */
  readonly timeoutMs?: number;
}

/**
 * Reuses the home's running stack (taking a lease), or starts one for this process's lifetime.
 * Another process starting or stopping the stack is waited for, up to the timeout.
 */
export async function connect(options: ConnectOptions): Promise<StackSession> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const leased = await tryLease(options.home, options.services);
    if (leased) return leased;
    const owner = await StackOwner.tryAcquire(options, 'session');
    if (owner) {
      try {
        const info = await owner.ensure(options.services);
        return { info, owner, release: () => owner.stop() };
      } catch (err) {
        await owner.stop();
        throw err;
      }
    }
    if (Date.now() > deadline) {
      throw new SaasctlError(
        'LOCAL_STACK_BUSY',
        `The local stack in ${options.home} is busy starting or stopping.`,
        {
          exitCode: ExitCode.conflict,
          actions: ['Try again in a moment, or check it with `saasctl local status`.'],
        },
      );
    }
    await sleep(100);
  }
}

/** The running stack's info, or undefined when no live owner answers. */
export async function readStack(home: string): Promise<StackInfo | undefined> {
  let info: StackInfo;
  try {
    info = JSON.parse(await readFile(stackFiles(home).info, 'utf8')) as StackInfo;
  } catch {
    return undefined;
  }
  if (!isAlive(info.pid)) return undefined;
  try {
    return await requestJson<StackInfo>(`${info.controlUrl}/`, 'GET');
  } catch {
    return undefined;
  }
}

/** Asks the owner to stop; resolves once its process has released the home. */
export async function requestStop(info: StackInfo, timeoutMs = 30_000): Promise<void> {
  await requestJson(`${info.controlUrl}/stop`, 'POST', {});
  const deadline = Date.now() + timeoutMs;
  while (isAlive(info.pid) && (await readStack(info.home))) {
    if (Date.now() > deadline) {
      throw new SaasctlError(
        'LOCAL_STACK_STOP_TIMEOUT',
        `The local stack (pid ${info.pid}) did not stop in time.`,
        {
          actions: [
            `It may still be serving other commands; kill it with \`kill ${info.pid}\` if it is stuck.`,
          ],
        },
      );
    }
    await sleep(100);
  }
}

async function tryLease(home: string, services: readonly LocalService[]): Promise<StackSession | undefined> {
  let current: StackInfo;
  try {
    current = JSON.parse(await readFile(stackFiles(home).info, 'utf8')) as StackInfo;
  } catch {
    return undefined;
  }
  if (current.stopping || !isAlive(current.pid)) return undefined;
  let info: StackInfo;
  try {
    info = await requestJson<StackInfo>(`${current.controlUrl}/leases`, 'POST', {
      pid: process.pid,
      services,
    });
  } catch (err) {
    if (err instanceof LeaseRefused) return undefined;
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') return undefined;
    throw err;
  }
  return {
    info,
    release: async () => {
      await requestJson(`${info.controlUrl}/leases/${process.pid}`, 'DELETE').catch(() => undefined);
    },
  };
}

class LeaseRefused extends Error {}

/**
 * One request to an owner's control API. node:http rather than fetch: fetch costs ~50 ms to
 * load and keeps the process alive for ~200 ms after its last request.
 */
function requestJson<T>(url: string, method: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent: false,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 503) return reject(new LeaseRefused('stopping'));
          if (status < 200 || status >= 300) {
            const message = text ? ((JSON.parse(text) as { error?: string }).error ?? text) : String(status);
            return reject(
              new SaasctlError('LOCAL_STACK_ERROR', `The local stack answered ${status}: ${message}`),
            );
          }
          resolve((text ? JSON.parse(text) : undefined) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Creates the lock file exclusively. A lock left by a dead process is moved aside atomically
 * (rename), so of two processes that find it stale only one takes it over.
 */
async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
    if (holder && isAlive(holder)) return false;
    if (!holder) {
      // Being written right now by its new holder, or empty after a crash mid-write.
      await sleep(50);
      const again = Number(await readFile(lock, 'utf8').catch(() => ''));
      if (again && isAlive(again)) return false;
    }
    const aside = `${lock}.stale-${randomUUID()}`;
    try {
      await rename(lock, aside);
    } catch {
      continue;
    }
    const moved = Number(await readFile(aside, 'utf8').catch(() => ''));
    if (moved && moved !== holder && isAlive(moved)) {
      // Someone took the lock over between our read and our rename: give it back.
      await rename(aside, lock).catch(() => undefined);
      return false;
    }
    await rm(aside, { force: true });
  }
  return false;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function respond(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
