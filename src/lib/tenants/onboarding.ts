import type { SFNClient } from '@aws-sdk/client-sfn';

import { assertRegion } from '../platform/target.js';
import type { Reporter } from '../cli/reporter.js';
import { needsDedicatedCompute, type SiloDeployResult } from '../infra/deploy-silo.js';
import { onboardingWorkflow, type OnboardingServices } from '../workflow/onboarding.js';
import type { TenantWorkflowInput } from '../workflow/definition.js';
import { runWorkflow, type ProgressSink, type RunOptions } from '../workflow/runner.js';
import { followExecution, startExecution, type ExecutionRef, type FollowOptions } from '../workflow/sfn.js';
import { assertDisplayName, assertEmail, assertPlanPrice, assertTenantId, type Tenant } from './model.js';
import {
  subscriptionOf,
  validateSubscription,
  type SubscriptionInput,
  type SubscriptionRegistrar,
} from './subscription.js';
import type { TierCatalog } from './tiers.js';

export interface OnboardRequest {
  readonly tenantId: string;
  readonly tier: string;
  readonly name: string;
  readonly adminEmail: string;
  readonly region: string;
  readonly planPrice?: number;
  /** The tenant's AWS Marketplace subscription, when it buys through Marketplace. */
  readonly marketplaceAccountId?: string;
  readonly licenseArn?: string;
  readonly marketplaceCustomer?: string;
}

export interface OnboardDependencies extends Omit<OnboardingServices, 'actor'> {
  readonly tiers: TierCatalog;
  readonly actor: () => Promise<string>;
  readonly stage: string;
  readonly sink: ProgressSink;
  readonly runOptions?: RunOptions;
  /** The local target: registers the tenant's Marketplace subscription with the emulator. */
  readonly registerSubscription?: SubscriptionRegistrar;
  /**
   * On the aws target: deploys the silo stack (dedicated compute) of a tenant whose tier needs it,
   * once the tenant is ACTIVE (src/lib/infra/deploy-silo.ts). Absent: no dedicated compute.
   */
  readonly deploySilo?: (tenant: Tenant, reporter: Reporter) => Promise<SiloDeployResult>;
  /** On the aws target: run on the deployed state machine instead of in-process. */
  readonly stepFunctions?: {
    readonly client: () => SFNClient;
    readonly stateMachineArn: string;
    /** False: start the execution and return its reference (`--no-wait`). */
    readonly wait: boolean;
    readonly follow?: FollowOptions;
  };
}

export type StepOutcome = 'created' | 'exists';

export interface OnboardResult {
  /** Absent only with --no-wait on Step Functions, before the execution created it. */
  readonly tenant?: Tenant;
  readonly execution?: ExecutionRef & { readonly status?: string };
  /** False when the tenant was already fully onboarded: nothing was written. */
  readonly changed: boolean;
  readonly steps: readonly { readonly step: string; readonly outcome: StepOutcome }[];
  /** The silo stack deployed for a tier with dedicated compute (aws target). */
  readonly siloStack?: SiloDeployResult;
}

/** Checks every field against its rule before anything is started or written (exit 2). */
export function validateOnboardRequest(input: OnboardRequest): OnboardRequest {
  return {
    tenantId: assertTenantId(input.tenantId),
    tier: input.tier,
    name: assertDisplayName(input.name),
    adminEmail: assertEmail(input.adminEmail),
    region: assertRegion(input.region),
    ...(input.planPrice === undefined ? {} : { planPrice: assertPlanPrice(input.planPrice) }),
    ...validateSubscription(input satisfies SubscriptionInput),
  };
}

/**
 * Onboards a tenant through the onboarding workflow: record PROVISIONING -> (enterprise-account)
 * its AWS account -> (silo) its KMS key and table -> Cognito group -> admin user -> ACTIVE.
 * Every step looks before it creates, so re-running (or running twice at once) converges on
 * one of each; a failed step is recorded on the tenant, and a re-run resumes.
 */
export async function onboardTenant(
  deps: OnboardDependencies,
  input: OnboardRequest,
  reporter: Reporter,
): Promise<OnboardResult> {
  const request = validateOnboardRequest(input);
  const tier = await deps.tiers.require(request.tier);
  const workflowInput = { ...request, isolation: tier.isolation, stage: deps.stage };
  if (deps.stepFunctions) return onboardOnStepFunctions(deps, workflowInput, reporter);
  const services: OnboardingServices = { ...deps, actor: await deps.actor() };
  const reports = await runWorkflow(
    onboardingWorkflow,
    workflowInput,
    services,
    deps.sink,
    reporter,
    deps.runOptions,
  );
  const steps = reports.map((r) => ({
    step: r.step,
    outcome: r.outcome.changed ? ('created' as const) : ('exists' as const),
  }));
  const tenant = await deps.catalog.require(request.tenantId);
  const subscription = subscriptionOf(tenant);
  if (subscription && deps.registerSubscription) {
    // Registering is idempotent, so a re-run (or a crash before this) simply registers again.
    const step = reporter.step('Marketplace subscription (local emulator)');
    await deps.registerSubscription(subscription);
    step.done(subscription.kind === 'license' ? subscription.licenseArn : subscription.customerIdentifier);
  }
  const siloStack = await deployDedicatedCompute(deps, tenant, reporter);
  return {
    tenant,
    changed: steps.some((s) => s.outcome === 'created'),
    steps,
    ...(siloStack ? { siloStack } : {}),
  };
}

/**
 * The tenant's dedicated compute, when its tier has some and the target deploys it: after the
 * workflow, so the stack gets the key and table the workflow made. CloudFormation makes a re-run
 * a no-op; a failed deploy leaves the tenant ACTIVE on its table and key, and a re-run of
 * onboarding deploys again.
 */
async function deployDedicatedCompute(
  deps: OnboardDependencies,
  tenant: Tenant,
  reporter: Reporter,
): Promise<SiloDeployResult | undefined> {
  if (!deps.deploySilo || !needsDedicatedCompute(tenant.isolation) || tenant.status !== 'ACTIVE') {
    return undefined;
  }
  return deps.deploySilo(tenant, reporter);
}

async function onboardOnStepFunctions(
  deps: OnboardDependencies,
  input: TenantWorkflowInput,
  reporter: Reporter,
): Promise<OnboardResult> {
  const config = deps.stepFunctions as NonNullable<OnboardDependencies['stepFunctions']>;
  const sfn = config.client();
  const execution = await startExecution(sfn, config.stateMachineArn, onboardingWorkflow.name, input);
  reporter.info(
    `Execution ${execution.name}${execution.started ? ' started' : ' (already started by this request)'}.`,
  );
  if (!config.wait) {
    const tenant = await deps.catalog.get(input.tenantId);
    return { ...(tenant ? { tenant } : {}), execution, changed: execution.started, steps: [] };
  }
  const outcome = await followExecution(sfn, execution.executionArn, reporter, config.follow);
  const tenant = await deps.catalog.require(input.tenantId);
  const siloStack = await deployDedicatedCompute(deps, tenant, reporter);
  return {
    tenant,
    execution: { ...execution, status: outcome.status },
    changed: execution.started,
    steps: outcome.completedSteps.map((step) => ({ step, outcome: 'created' as const })),
    ...(siloStack ? { siloStack } : {}),
  };
}
