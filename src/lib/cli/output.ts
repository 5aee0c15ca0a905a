import { Chalk, type ChalkInstance } from 'chalk';

import type { Reporter, StepHandle } from './reporter.js';

export interface Streams {
  readonly write: (text: string) => void;
  readonly isTTY: boolean;
}

export function colourEnabled(isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return isTTY;
}

/** chalk with colour forced off when NO_COLOR is set or the stream is not a TTY. */
export function palette(enabled: boolean): ChalkInstance {
  return new Chalk({ level: enabled ? 1 : 0 });
}

/** Step-by-step progress on stderr, for humans. */
export class StderrReporter implements Reporter {
  readonly warnings: string[] = [];
  private readonly paint: ChalkInstance;

  constructor(private readonly out: Streams) {
    this.paint = palette(colourEnabled(out.isTTY));
  }

  info(message: string): void {
    this.out.write(`${message}\n`);
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.out.write(`${this.paint.yellow('Warning:')} ${message}\n`);
  }

  private lastProgress = 0;

  progress(message: string, done = false): void {
    const now = Date.now();
    if (this.out.isTTY) {
      if (!done && now - this.lastProgress < 100) return;
      this.out.write(`\r${message}\u001b[K${done ? '\n' : ''}`);
    } else {
      // Logs get a line every ten seconds, and the last one.
      if (!done && now - this.lastProgress < 10_000) return;
      this.out.write(`${message}\n`);
    }
    this.lastProgress = now;
  }

  step(title: string): StepHandle {
    const started = Date.now();
    const line = (mark: string, detail?: string): void => {
      const took = this.paint.dim(`${Date.now() - started} ms`);
      this.out.write(`${mark} ${title}${detail ? ` ${this.paint.dim(`(${detail})`)}` : ''} ${took}\n`);
    };
    if (this.out.isTTY) this.out.write(`${this.paint.dim('…')} ${title}\r`);
    return {
      done: (detail) => line(this.paint.green(this.out.isTTY ? '✔' : 'ok  '), detail),
      skipped: (detail) => line(this.paint.dim(this.out.isTTY ? '•' : 'skip'), detail ?? 'already done'),
      failed: (detail) => line(this.paint.red(this.out.isTTY ? '✖' : 'fail'), detail),
    };
  }
}

export interface Column<T> {
  readonly header: string;
  readonly get: (row: T) => string | number | undefined;
}

/** A table for humans (cli-table3, loaded on first use). */
export async function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const table = new Table({
    head: columns.map((c) => c.header),
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    style: { head: colourEnabled(Boolean(process.stdout.isTTY)) ? ['cyan'] : [], border: [] },
  });
  for (const row of rows) table.push(columns.map((c) => String(c.get(row) ?? '')));
  return table.toString();
}

/** `key: value` lines, aligned, for a single record. */
export function renderFields(fields: Record<string, string | number | undefined>): string {
  const entries = Object.entries(fields).filter(([, v]) => v !== undefined && v !== '');
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
