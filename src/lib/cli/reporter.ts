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
