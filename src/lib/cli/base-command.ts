import { Command, Flags, type Interfaces } from '@oclif/core';

import type { LocalService } from '../local/services.js';
import type { Platform } from '../platform/platform.js';
import { describeTarget, resolveTarget, TARGETS, type Target } from '../platform/target.js';
import { ExitCode, SaasctlError, toSaasctlError, usageError } from './errors.js';
import { colourEnabled, palette, renderTable, StderrReporter, type Column } from './output.js';
import { CollectingReporter, type Reporter } from './reporter.js';

const GLOBAL = 'GLOBAL';

/**
 * The base of every saasctl command: `--json`, the target flags, one error envelope with
 * stable codes and exit codes, progress on stderr (silent under --json), warnings collected
 * into the JSON result, and the platform opened once and closed however the command ends.
 */
export abstract class SaasctlCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    target: Flags.string({
      description: 'Where to act: the embedded local stack or an AWS account. [env: SAASCTL_TARGET]',
      options: [...TARGETS],
      helpGroup: GLOBAL,
    }),
    stage: Flags.string({
      description: 'Deployment stage (aws: reads /saasctl/<stage>/platform). [env: SAASCTL_STAGE]',
      helpGroup: GLOBAL,
    }),
    region: Flags.string({ description: 'AWS region. [env: AWS_REGION]', helpGroup: GLOBAL }),
    profile: Flags.string({
      description: 'AWS named profile (aws target). [env: AWS_PROFILE]',
      helpGroup: GLOBAL,
    }),
  };

  /** The local services this command needs; the local stack starts only those. */
  static localServices: readonly LocalService[] = ['dynamodb'];
  /** Mutating commands name their target on stderr before acting. */
  static mutating = false;
  /** Commands that treat Ctrl-C as their normal end (a foreground server) handle it themselves. */
  protected handlesInterrupt = false;

  protected reporter: Reporter & { readonly warnings: string[] } = new CollectingReporter();
  private platformHandle?: Platform;
  private interrupted = false;
  private readonly onSigint = (): void => void this.interrupt();

  override async init(): Promise<void> {
    await super.init();
    this.reporter = this.jsonEnabled()
      ? new CollectingReporter()
      : new StderrReporter({
          write: (text) => process.stderr.write(text),
          isTTY: Boolean(process.stderr.isTTY),
        });
    if (!this.handlesInterrupt) process.once('SIGINT', this.onSigint);
  }

  /** Opens the target's platform once per command; `finally` closes it. */
  protected async platform(
    flags: Interfaces.InferredFlags<(typeof SaasctlCommand)['baseFlags']>,
  ): Promise<Platform> {
    if (this.platformHandle) return this.platformHandle;
    const target = resolveTarget(flags);
    const ctor = this.constructor as typeof SaasctlCommand;
    if (ctor.mutating) this.reporter.info(`Target: ${describeTarget(target)}`);
    const { openPlatform } = await import('../platform/platform.js');
    this.platformHandle = await openPlatform(target, {
      services: ctor.localServices,
      userAgent: `saasctl/${this.config.version}`,
      reporter: this.reporter,
    });
    return this.platformHandle;
  }

  protected target(flags: Interfaces.InferredFlags<(typeof SaasctlCommand)['baseFlags']>): Target {
    return resolveTarget(flags);
  }

  /**
   * Destructive steps ask first on a TTY; `--yes` skips the question; without a TTY and
   * without `--yes` they refuse rather than hang.
   */
  protected async confirm(message: string, yes: boolean): Promise<void> {
    if (yes) return;
    this.refuseWithoutTerminal(message);
    const { confirm } = await import('@inquirer/prompts');
    const answer = await confirm({ message, default: false }, { output: process.stderr });
    if (!answer)
      throw new SaasctlError('ABORTED', 'Aborted: nothing was changed.', { exitCode: ExitCode.failure });
  }

  /**
   * For what cannot be undone: the operator types the name of what goes (a tenant id). Same
   * refusal as `confirm` without a TTY and without `--yes`.
   */
  protected async confirmTyped(message: string, expected: string, yes: boolean): Promise<void> {
    if (yes) return;
    this.refuseWithoutTerminal(message);
    const { input } = await import('@inquirer/prompts');
    const answer = await input(
      { message: `${message} Type ${expected} to confirm:` },
      { output: process.stderr },
    );
    if (answer.trim() !== expected) {
      throw new SaasctlError(
        'ABORTED',
        `Aborted: "${answer.trim()}" is not ${expected}; nothing was changed.`,
      );
    }
  }

  private refuseWithoutTerminal(message: string): void {
    if (!process.stdin.isTTY || !process.stderr.isTTY || this.jsonEnabled()) {
      throw usageError(
        'CONFIRMATION_REQUIRED',
        `${message} Refusing without confirmation: not on a terminal.`,
        ['Pass --yes to confirm from a script.'],
      );
    }
  }

  /** A table for humans; under --json nothing is rendered at all (1,000 rows cost ~0.5 s). */
  protected async logTable<T>(
    rows: readonly T[],
    columns: readonly Column<T>[],
    whenEmpty: string,
  ): Promise<void> {
    if (this.jsonEnabled()) return;
    this.log(rows.length === 0 ? whenEmpty : await renderTable(rows, columns));
  }

  /** Plain JSON: it is read by programs, and oclif's colouring costs ~45 ms per command. */
  override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }

  protected override toSuccessJson<T>(result: T): T {
    if (
      this.reporter.warnings.length === 0 ||
      !result ||
      typeof result !== 'object' ||
      Array.isArray(result)
    ) {
      return result;
    }
    return { ...result, warnings: this.reporter.warnings };
  }

  override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if ((err as Error & { code?: string }).code === 'EEXIT') throw err;
    const error = this.interrupted
      ? new SaasctlError('INTERRUPTED', 'Interrupted.', { exitCode: ExitCode.interrupted })
      : toSaasctlError(err);
    process.exitCode = error.exitCode;
    if (this.jsonEnabled()) {
      this.logJson({ error: error.toJSON() });
    } else {
      const paint = palette(colourEnabled(Boolean(process.stderr.isTTY)));
      const lines = [`${paint.red('Error')} ${paint.dim(`[${error.code}]`)} ${error.message}`];
      for (const action of error.actions) lines.push(`  ${paint.dim('→')} ${action}`);
      if (process.env.SAASCTL_DEBUG && error.cause instanceof Error) lines.push(String(error.cause.stack));
      process.stderr.write(`${lines.join('\n')}\n`);
    }
    // Printed once, here: oclif's handler only exits with our code.
    throw Object.assign(new Error(error.message), {
      oclif: { exit: error.exitCode },
      skipOclifErrorHandling: true,
      saasctl: error,
    });
  }

  override async finally(err: Error | undefined): Promise<unknown> {
    process.removeListener('SIGINT', this.onSigint);
    const handle = this.platformHandle;
    this.platformHandle = undefined;
    if (handle) await handle.close();
    return super.finally(err);
  }

  private async interrupt(): Promise<void> {
    this.interrupted = true;
    process.stderr.write('\nInterrupted: stopping.\n');
    const handle = this.platformHandle;
    this.platformHandle = undefined;
    await handle?.close().catch(() => undefined);
    process.exit(ExitCode.interrupted);
  }
}
