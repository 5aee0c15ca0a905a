/**
 * How src/lib tells the operator what it is doing without printing: the command passes a
 * Reporter in (the pattern of the CDK toolkit's IIoHost). The CLI's implementation writes to
 * stderr; under --json it stays silent and only collects warnings for the result.
 */
export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  /** Starts a named step; the handle says how it ended. */
  step(title: string): StepHandle;
  /**
   * Progress of long work, called as often as convenient: the reporter decides how often to
   * show it (rewritten in place on a terminal, a line now and then otherwise). `done` ends it.
   */
  progress?(message: string, done?: boolean): void;
}

export interface StepHandle {
  done(detail?: string): void;
  /** Already in the desired state: nothing was changed. */
  skipped(detail?: string): void;
  failed(detail?: string): void;
}

const noStep: StepHandle = { done() {}, skipped() {}, failed() {} };

/** A reporter that drops everything except warnings, which it keeps for the caller. */
export class CollectingReporter implements Reporter {
  readonly warnings: string[] = [];
  info(): void {}
  warn(message: string): void {
    this.warnings.push(message);
  }
  step(): StepHandle {
    return noStep;
  }
}

export interface StepResult {
  /** False when the step found everything already in place. */
  readonly changed: boolean;
  readonly detail?: string;
}

/** Runs one step and reports how it ended; an error marks the step failed and propagates. */
export async function runStep<T>(
  reporter: Reporter,
  title: string,
  work: () => Promise<T>,
  outcome: (result: T) => StepResult,
): Promise<T> {
  const step = reporter.step(title);
  let result: T;
  try {
    result = await work();
  } catch (err) {
    step.failed(err instanceof Error && 'code' in err ? String(err.code) : undefined);
    throw err;
  }
  const { changed, detail } = outcome(result);
  if (changed) step.done(detail);
  else step.skipped(detail);
  return result;
}
