import { createHash } from 'node:crypto';

import type { HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';

import { isAwsError, SaasctlError } from '../cli/errors.js';
import type { Reporter, StepHandle } from '../cli/reporter.js';
import { sdk } from '../platform/sdk.js';
import type { TenantWorkflowInput } from './definition.js';

/**
 * The aws target runs workflows on Step Functions: the state machine rendered by asl.ts,
 * deployed by infra. An execution's name is an idempotency key for 90 days, so it is derived
 * from the tenant and the request: the same request starts one execution, however often it is
 * sent; a different request for the same tenant gets its own.
 */
export function executionName(workflow: string, input: TenantWorkflowInput): string {
  const canonical = JSON.stringify(
    Object.fromEntries(Object.entries(input).sort(([a], [b]) => a.localeCompare(b))),
  );
  const digest = createHash('sha256').update(canonical).digest('hex').slice(0, 16);
  // Names allow 1-80 of [A-Za-z0-9_-]: no '#' or ':'. A tenant id is at most 32 characters.
  return `${workflow}-${input.tenantId}-${digest}`;
}

export interface ExecutionRef {
  readonly executionArn: string;
  readonly name: string;
  /** False when this request had already started it (the name is the idempotency key). */
  readonly started: boolean;
}

export async function startExecution(
  sfn: SFNClient,
  stateMachineArn: string,
  workflow: string,
  input: TenantWorkflowInput,
): Promise<ExecutionRef> {
  const name = executionName(workflow, input);
  try {
    const { executionArn } = await sfn.send(
      new (sdk.sfn().StartExecutionCommand)({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    return { executionArn: String(executionArn), name, started: true };
  } catch (err) {
    // A closed execution of the same name: this very request ran before. Follow that one.
    if (!isAwsError(err, 'ExecutionAlreadyExists')) throw err;
    return { executionArn: executionArnOf(stateMachineArn, name), name, started: false };
  }
}

export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

export interface ExecutionOutcome {
  readonly executionArn: string;
  readonly status: string;
  readonly completedSteps: string[];
}

export interface FollowOptions {
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const TERMINAL = new Set(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionAborted', 'ExecutionTimedOut']);

/**
 * Follows an execution through its history, showing each step as it starts and completes,
 * until it ends. A failed execution is an error naming the failed step and its cause.
 */
export async function followExecution(
  sfn: SFNClient,
  executionArn: string,
  reporter: Reporter,
  options: FollowOptions = {},
): Promise<ExecutionOutcome> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const seen = new Set<number>();
  const open = new Map<string, StepHandle>();
  const completed: string[] = [];
  let current: string | undefined;
  for (;;) {
    for (const event of await history(sfn, executionArn)) {
      if (event.id === undefined || seen.has(event.id)) continue;
      seen.add(event.id);
      const entered = event.stateEnteredEventDetails;
      if (event.type === 'TaskStateEntered' && entered?.name) {
        current = entered.name;
        open.set(entered.name, reporter.step(entered.name));
      }
      const exited = event.stateExitedEventDetails;
      if (event.type === 'TaskStateExited' && exited?.name) {
        open.get(exited.name)?.done();
        open.delete(exited.name);
        completed.push(exited.name);
      }
      if (event.type && TERMINAL.has(event.type)) {
        if (event.type === 'ExecutionSucceeded')
          return { executionArn, status: 'SUCCEEDED', completedSteps: completed };
        for (const step of open.values()) step.failed();
        const failure = event.executionFailedEventDetails;
        throw new SaasctlError(
          'WORKFLOW_FAILED',
          `The execution ${event.type.replace('Execution', '').toLowerCase()}${current ? ` at ${current}` : ''}${
            failure?.error ? `: ${failure.error}${failure.cause ? ` (${failure.cause})` : ''}` : ''
          }.`,
          {
            details: { executionArn, step: current, completedSteps: completed },
            actions: [
              'See `saasctl tenant status`; re-run the same command to resume once the cause is fixed.',
            ],
          },
        );
      }
    }
    await sleep(options.pollMs ?? 2000);
  }
}

async function history(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new (sdk.sfn().GetExecutionHistoryCommand)({ executionArn, maxResults: 1000, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}
