import type { IsolationModel } from '../tenants/model.js';
import type { RetryPolicy, WorkflowDefinition } from './definition.js';

/** The Amazon States Language document of a workflow (the subset this renderer emits). */
export interface StateMachineDefinition {
  readonly Comment: string;
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
}

export const RECORD_FAILURE_STATE = 'RecordFailure';
export const FAILED_STATE = 'Failed';
export const SUCCEEDED_STATE = 'Succeeded';

/**
 * Renders a workflow as a state machine: one Lambda task per step, in order; a Choice before
 * each step that applies to some isolation models only; every task with the step's retriers
 * and a catch-all that records the failure on the tenant and fails the execution.
 * `functionArn(step)` names the Lambda of each step (and of RecordFailure).
 */
export function renderAsl<S>(
  definition: WorkflowDefinition<S>,
  functionArn: (stepName: string) => string,
): StateMachineDefinition {
  const states: Record<string, Record<string, unknown>> = {};
  const steps = definition.steps;
  const entry = (index: number): string => {
    if (index >= steps.length) return SUCCEEDED_STATE;
    return steps[index].appliesTo ? choiceName(steps[index].name) : steps[index].name;
  };
  steps.forEach((step, index) => {
    if (step.appliesTo) {
      states[choiceName(step.name)] = {
        Type: 'Choice',
        Comment: `${step.name} applies to ${step.appliesTo.join(', ')} tenants only`,
        Choices: [{ Or: step.appliesTo.map(isolationIs), Next: step.name }],
        Default: entry(index + 1),
      };
    }
    states[step.name] = {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: functionArn(step.name), 'Payload.$': '$' },
      ResultSelector: { 'outcome.$': '$.Payload' },
      ResultPath: `$.results.${step.name}`,
      Retry: [lambdaRetrier, ...step.retry.map(retrier)],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: RECORD_FAILURE_STATE }],
      Next: entry(index + 1),
    };
  });
  states[RECORD_FAILURE_STATE] = {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: functionArn(RECORD_FAILURE_STATE), 'Payload.$': '$' },
    ResultPath: null,
    Retry: [lambdaRetrier],
    Next: FAILED_STATE,
  };
  states[FAILED_STATE] = {
    Type: 'Fail',
    Error: `${definition.name}.Failed`,
    Cause: 'A step failed: see $.error',
  };
  states[SUCCEEDED_STATE] = { Type: 'Succeed' };
  return { Comment: definition.comment, StartAt: entry(0), States: states };
}

function choiceName(stepName: string): string {
  return `${stepName}Needed`;
}

function isolationIs(isolation: IsolationModel): Record<string, string> {
  return { Variable: '$.isolation', StringEquals: isolation };
}

/** Lambda's own transient failures, retried in front of the step's retriers. */
const lambdaRetrier = {
  ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'],
  IntervalSeconds: 2,
  MaxAttempts: 3,
  BackoffRate: 2,
};

function retrier(policy: RetryPolicy): Record<string, unknown> {
  return {
    ErrorEquals: [...policy.errors],
    IntervalSeconds: policy.intervalSeconds,
    MaxAttempts: policy.maxAttempts,
    BackoffRate: policy.backoffRate,
    ...(policy.maxDelaySeconds ? { MaxDelaySeconds: policy.maxDelaySeconds } : {}),
  };
}
