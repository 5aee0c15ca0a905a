import { runStep, type Reporter } from '../cli/reporter.js';
import type { WorkflowProgress } from '../tenants/catalog.js';
import {
  appliesTo,
  errorName,
  type RetryPolicy,
  type StepOutcome,
  type TenantWorkflowInput,
  type WorkflowDefinition,
  type WorkflowStep,
} from './definition.js';

/** Where progress goes: the tenant record (`tenant status` reads it). */
export interface ProgressSink {
  record(tenantId: string, progress: WorkflowProgress): Promise<void>;
}

export interface RunOptions {
  readonly sleep?: (ms: number) => Promise<void>;
  /** Scales retry intervals (tests run them in milliseconds). Default 1. */
  readonly timeScale?: number;
  /** Test switch: the named step fails once, before doing anything, to prove re-runs converge. */
  readonly failOnce?: string;
  readonly now?: () => Date;
}

export interface StepReport {
  readonly step: string;
  readonly outcome: StepOutcome;
  readonly attempts: number;
}

export class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

/**
 * Runs a workflow in-process with Step Functions' semantics: steps in order, skipped where they
 * do not apply to the tenant's isolation model, each retried per its policies, and on a final
 * failure the failure recorded on the tenant (the catch) before the error propagates.
 */
export async function runWorkflow<S>(
  definition: WorkflowDefinition<S>,
  input: TenantWorkflowInput,
  services: S,
  sink: ProgressSink,
  reporter: Reporter,
  options: RunOptions = {},
): Promise<StepReport[]> {
  const now = options.now ?? (() => new Date());
  const completed: string[] = [];
  const reports: StepReport[] = [];
  const progress = (
    status: WorkflowProgress['status'],
    step?: string,
    error?: unknown,
  ): WorkflowProgress => ({
    workflow: definition.name,
    status,
    ...(step ? { step } : {}),
    completedSteps: [...completed],
    ...(error
      ? { error: { name: errorName(error), message: error instanceof Error ? error.message : String(error) } }
      : {}),
    updatedAt: now().toISOString(),
  });
  let injected = false;
  for (const step of definition.steps) {
    if (!appliesTo(step, input.isolation)) continue;
    await sink.record(input.tenantId, progress('RUNNING', step.name));
    let attempts = 0;
    try {
      const outcome = await runStep(
        reporter,
        step.title(input),
        () =>
          withRetries(step, options, async () => {
            attempts++;
            if (options.failOnce === step.name && !injected) {
              injected = true;
              throw new InjectedFailure(`Injected failure in ${step.name} (test switch)`);
            }
            return step.run(input, services);
          }),
        (o) => o,
      );
      completed.push(step.name);
      reports.push({ step: step.name, outcome, attempts });
    } catch (err) {
      await sink.record(input.tenantId, progress('FAILED', step.name, err));
      throw err;
    }
  }
  await sink.record(input.tenantId, progress('SUCCEEDED'));
  return reports;
}

/** Step Functions' Retry: the first retrier that matches the error decides; each counts its own retries. */
async function withRetries<S>(
  step: WorkflowStep<S>,
  options: RunOptions,
  attempt: () => Promise<StepOutcome>,
): Promise<StepOutcome> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const retried = new Map<RetryPolicy, number>();
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const name = errorName(err);
      const policy = step.retry.find((p) => p.errors.includes(name) || p.errors.includes('States.ALL'));
      const count = policy ? (retried.get(policy) ?? 0) : 0;
      if (!policy || count >= policy.maxAttempts) throw err;
      retried.set(policy, count + 1);
      const seconds = Math.min(
        policy.intervalSeconds * policy.backoffRate ** count,
        policy.maxDelaySeconds ?? Number.POSITIVE_INFINITY,
      );
      await sleep(seconds * 1000 * (options.timeScale ?? 1));
    }
  }
}
