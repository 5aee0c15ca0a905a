import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runCommand } from '@oclif/test';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = path.join(root, 'bin', 'run.js');

/** A fresh $SAASCTL_HOME for a suite; `dispose` removes it. */
export function tempHome(prefix = 'saasctl-test-'): { home: string; dispose(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const home = path.join(dir, 'home');
  return { home, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What a failing command prints on stdout under --json. */
export interface ErrorEnvelope {
  error: { code: string; message: string; exitCode: number; actions: string[] };
}

export interface CommandOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  /** stdout parsed, for --json runs. */
  readonly json: unknown;
}

/** Runs a command in-process with @oclif/test against the built CLI, in the given home. */
export async function run(args: string[], home: string): Promise<CommandOutcome> {
  const previous = process.env.SAASCTL_HOME;
  process.env.SAASCTL_HOME = home;
  try {
    // runCommand joins its arguments and splits them again on spaces outside quotes.
    const quoted = args.map((a) => (/\s/.test(a) ? `"${a}"` : a));
    const result = await runCommand(quoted, { root });
    const exit = (result.error as (Error & { oclif?: { exit?: number } }) | undefined)?.oclif?.exit;
    return {
      stdout: result.stdout,
      stderr: result.stderr,
      exitCode: result.error ? (exit ?? 1) : 0,
      json: args.includes('--json') ? parseJson(result.stdout) : undefined,
    };
  } finally {
    if (previous === undefined) delete process.env.SAASCTL_HOME;
    else process.env.SAASCTL_HOME = previous;
  }
}

/**
 * Onboards each `[id, tier]` (name `<id> Corp`, admin `admin@<id>.test`) with `tenant onboard`,
 * failing the test with the command's output when one does not exit 0.
 */
export async function onboardTenants(
  home: string,
  tenants: readonly (readonly [string, string])[],
): Promise<void> {
  for (const [id, tier] of tenants) {
    const args = [
      'tenant',
      'onboard',
      id,
      '--tier',
      tier,
      '--name',
      `${id} Corp`,
      '--admin-email',
      `admin@${id}.test`,
    ];
    const onboard = await run([...args, '--json'], home);
    if (onboard.exitCode !== 0) {
      throw new Error(
        `saasctl ${args.join(' ')} exited ${onboard.exitCode}: ${onboard.stdout}${onboard.stderr}`,
      );
    }
  }
}

/** Runs the CLI as a separate process, as an operator or CI would. */
export function spawnCli(args: string[], home: string): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, SAASCTL_HOME: home, NO_COLOR: '1' }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ stdout, stderr, exitCode, json: args.includes('--json') ? parseJson(stdout) : undefined });
      },
    );
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
