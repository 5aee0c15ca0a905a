import { RECORD_FAILURE_STATE } from './asl.js';
import {
  errorName,
  type StepOutcome,
  type TenantWorkflowInput,
  type WorkflowDefinition,
} from './definition.js';
import type { ProgressSink } from './runner.js';

/** What a step's Lambda receives: the execution input, plus `error` in RecordFailure. */
export type StepEvent = TenantWorkflowInput & {
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  readonly results?: Record<string, unknown>;
};

/**
 * The logic behind each Lambda of a deployed workflow (infra/functions binds clients and calls
 * this): runs one named step of the same definition the local runner uses, recording progress
 * on the tenant. Retries belong to Step Functions, which matches its Retry and Catch on the
 * error's name: a failure is rethrown under the name the local runner matches on.
 */
export async function handleStep<S>(
  definition: WorkflowDefinition<S>,
  stepName: string,
  event: StepEvent,
  services: S,
  sink: ProgressSink,
  now: () => Date = () => new Date(),
): Promise<StepOutcome> {
  const completedSteps = Object.keys(event.results ?? {});
  if (stepName === RECORD_FAILURE_STATE) {
    const failed = definition.steps.find((s) => !completedSteps.includes(s.name))?.name;
    await sink.record(event.tenantId, {
      workflow: definition.name,
      status: 'FAILED',
      ...(failed ? { step: failed } : {}),
      completedSteps,
      error: { name: event.error?.Error ?? 'Error', message: event.error?.Cause ?? '' },
      updatedAt: now().toISOString(),
    });
    return { changed: true };
  }
  const step = definition.steps.find((s) => s.name === stepName);
  if (!step) throw new Error(`${definition.name} has no step ${stepName}`);
  await sink.record(event.tenantId, {
    workflow: definition.name,
    status: 'RUNNING',
    step: stepName,
    completedSteps,
    updatedAt: now().toISOString(),
  });
  try {
    return await step.run(event, services);
  } catch (err) {
    const name = errorName(err);
    if (err instanceof Error && err.name !== name) {
      throw Object.assign(new Error(err.message, { cause: err }), { name });
    }
    throw err;
  }
}
