import type { IsolationModel } from '../tenants/model.js';

/**
 * A workflow is defined once, as ordered idempotent steps with retry and catch policies and a
 * branch on the tenant's isolation model. From that one definition, asl.ts renders the Step
 * Functions state machine the CDK app deploys (one Lambda task per step), and runner.ts runs
 * the same steps in-process for the local target, with the same retry and catch semantics.
 */

/**
 * Step Functions' Retrier: errors are error names (`States.ALL` matches any); maxAttempts counts
 * the retries after the first attempt; the n-th retry waits interval x backoffRate^(n-1), capped.
 */
export interface RetryPolicy {
  readonly errors: readonly string[];
  readonly intervalSeconds: number;
  readonly maxAttempts: number;
  readonly backoffRate: number;
  readonly maxDelaySeconds?: number;
}

/** The input every step receives (the state machine's execution input). */
export interface TenantWorkflowInput {
  readonly tenantId: string;
  readonly tier: string;
  readonly isolation: IsolationModel;
  readonly name: string;
  readonly adminEmail: string;
  readonly region: string;
  readonly stage: string;
  readonly planPrice?: number;
  readonly reason?: string;
  /** Offboarding: the days KMS waits before deleting the tenant's key (7-30). */
  readonly keyDeletionDays?: number;
  /** Onboarding: the tenant's AWS Marketplace subscription (tenants/subscription.ts), when it has one. */
  readonly marketplaceAccountId?: string;
  readonly licenseArn?: string;
  readonly marketplaceCustomer?: string;
}

export interface StepOutcome {
  /** False when the step found everything already in place. */
  readonly changed: boolean;
  readonly detail?: string;
}

export interface WorkflowStep<Services> {
  /** The state's name in the state machine (PascalCase, unique). */
  readonly name: string;
  /** What the operator sees while it runs. */
  title(input: TenantWorkflowInput): string;
  /** The isolation models this step applies to; every model when absent. */
  readonly appliesTo?: readonly IsolationModel[];
  readonly retry: readonly RetryPolicy[];
  /** Idempotent: looks before it creates, so a re-run after a crash converges. */
  run(input: TenantWorkflowInput, services: Services): Promise<StepOutcome>;
}

export interface WorkflowDefinition<Services> {
  readonly name: 'onboarding' | 'offboarding';
  readonly comment: string;
  readonly steps: readonly WorkflowStep<Services>[];
}

export function appliesTo<S>(step: WorkflowStep<S>, isolation: IsolationModel): boolean {
  return !step.appliesTo || step.appliesTo.includes(isolation);
}

/** Error names AWS answers when it is busy: worth retrying in every step. */
export const TRANSIENT_ERRORS = [
  'ThrottlingException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Lambda.ServiceException',
  'Lambda.TooManyRequestsException',
] as const;

export const DEFAULT_RETRY: readonly RetryPolicy[] = [
  { errors: TRANSIENT_ERRORS, intervalSeconds: 2, maxAttempts: 4, backoffRate: 2, maxDelaySeconds: 30 },
];

/** The error name a step failure carries: what Step Functions matches Retry and Catch on. */
export function errorName(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && err instanceof Error && err.name === 'SaasctlError') return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'Error';
}
