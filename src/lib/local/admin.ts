import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { conflict, SaasctlError } from '../cli/errors.js';
import { LOCAL_SERVICES, ON_DEMAND_SERVICES } from './services.js';
import {
  isAlive,
  readStack,
  requestStop,
  stackFiles,
  StackOwner,
  type StackInfo,
  type StackOptions,
} from './stack.js';

/** Operator actions on the local stack: `saasctl local start|status|stop|reset`. */

export interface StackStatus {
  readonly running: boolean;
  readonly home: string;
  readonly stack?: StackInfo;
  readonly bytesOnDisk: number;
}

/**
 * Becomes the home's long-running owner with every service started. When a one-shot command
 * owns the home right now, waits for it to finish (up to the timeout).
 */
export async function startStack(options: StackOptions, timeoutMs = 30_000): Promise<StackOwner> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const owner = await StackOwner.tryAcquire(options, 'daemon');
    if (owner) {
      try {
        await owner.ensure(LOCAL_SERVICES.filter((s) => !ON_DEMAND_SERVICES.includes(s)));
      } catch (err) {
        await owner.stop();
        throw err;
      }
      return owner;
    }
    const running = await readStack(options.home);
    if (running?.mode === 'daemon') {
      throw conflict('LOCAL_STACK_RUNNING', `The local stack is already running (pid ${running.pid}).`, [
        'See it with `saasctl local status`; stop it with `saasctl local stop`.',
      ]);
    }
    if (Date.now() > deadline) {
      throw conflict('LOCAL_STACK_BUSY', `Another saasctl process holds ${options.home}.`, [
        'Wait for it to finish, then try again.',
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Endpoints as people see them: a connection string's password is shown as `***` (the JSON
 * result keeps it, for tools that connect).
 */
export function displayEndpoints(
  endpoints: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, endpoint] of Object.entries(endpoints)) {
    if (endpoint === undefined) continue;
    shown[name] = endpoint.replace(/^([a-z]+:\/\/[^:/@]+):[^@]+@/, '$1:***@');
  }
  return shown;
}

/**
 * Waits until the `local start` daemon announces its sample API in `stack.json` and the API
 * answers its health check; returns its address. Fails at once if the daemon dies.
 */
export async function waitForApi(home: string, daemon: number, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const log = stackFiles(home).log;
  for (;;) {
    if (!isAlive(daemon)) {
      const tail = (await readFile(log, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      throw new SaasctlError(
        'API_START_FAILED',
        `The local stack stopped before its API answered. Log tail:\n${tail}`,
        {
          actions: [`See ${log}.`],
        },
      );
    }
    const url = (await readStack(home))?.api;
    if (
      url &&
      (await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      return url;
    if (Date.now() > deadline) {
      throw new SaasctlError('API_START_FAILED', 'The sample API did not answer in time.', {
        actions: [`See ${log}.`],
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs `saasctl local start` in the background and waits until its stack answers. */
export async function startDetached(
  options: StackOptions,
  command: { readonly execPath: string; readonly args: readonly string[] },
  timeoutMs = 60_000,
): Promise<StackInfo> {
  const running = await readStack(options.home);
  if (running?.mode === 'daemon') return running;
  const files = stackFiles(options.home);
  await mkdir(options.home, { recursive: true });
  const log = await open(files.log, 'a');
  const child = spawn(command.execPath, [...command.args], {
    detached: true,
    stdio: ['ignore', log.fd, log.fd],
    env: {
      ...process.env,
      SAASCTL_HOME: options.home,
      SAASCTL_STAGE: options.stage,
      AWS_REGION: options.region,
      NO_COLOR: '1',
    },
  });
  child.unref();
  await log.close();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await readStack(options.home);
    if (
      info &&
      info.pid === child.pid &&
      LOCAL_SERVICES.every((s) => ON_DEMAND_SERVICES.includes(s) || info.endpoints[s])
    )
      return info;
    if (exited !== null || Date.now() > deadline) {
      const tail = (await readFile(files.log, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      throw new SaasctlError(
        'LOCAL_STACK_START_FAILED',
        `The local stack did not start${exited !== null ? ` (exit code ${exited})` : ' in time'}. Log tail:\n${tail}`,
        { actions: [`See ${files.log}.`] },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function stackStatus(home: string): Promise<StackStatus> {
  const stack = await readStack(home);
  return { running: Boolean(stack), home, ...(stack ? { stack } : {}), bytesOnDisk: await diskUsage(home) };
}

/** Stops the long-running stack; already stopped is success. */
export async function stopStack(home: string): Promise<{ stopped: boolean; pid?: number }> {
  const stack = await readStack(home);
  if (!stack) return { stopped: false };
  if (stack.mode === 'session') {
    throw conflict(
      'LOCAL_STACK_IN_USE',
      `No long-running stack: a one-shot command (pid ${stack.pid}) runs the stack and stops it when it ends.`,
    );
  }
  await requestStop(stack);
  return { stopped: true, pid: stack.pid };
}

/** Wipes the home's state. Refuses while any process runs a stack on it. */
export async function resetHome(options: StackOptions): Promise<{ removedBytes: number }> {
  const owner = await StackOwner.tryAcquire(options, 'session');
  if (!owner) {
    throw conflict(
      'LOCAL_STACK_RUNNING',
      `The local stack in ${options.home} is running; reset needs it stopped.`,
      ['Stop it with `saasctl local stop`, then reset.'],
    );
  }
  const removedBytes = await diskUsage(options.home);
  const keep = new Set([
    path.basename(stackFiles(options.home).lock),
    path.basename(stackFiles(options.home).info),
  ]);
  try {
    for (const entry of await readdir(options.home)) {
      if (!keep.has(entry)) await rm(path.join(options.home, entry), { recursive: true, force: true });
    }
  } finally {
    await owner.stop();
  }
  return { removedBytes };
}

async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await diskUsage(full);
    else
      total += await stat(full).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}
