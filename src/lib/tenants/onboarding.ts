import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';

import { conflict, usageError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import { ensureAdminUser, ensureTenantGroup, tenantGroupName } from '../identity/cognito.js';
import type { TenantCatalog } from './catalog.js';
import { assertDisplayName, assertEmail, assertPlanPrice, assertTenantId, type Tenant } from './model.js';
import { isPooled, type TierCatalog } from './tiers.js';

export interface OnboardRequest {
  readonly tenantId: string;
  readonly tier: string;
  readonly name: string;
  readonly adminEmail: string;
  readonly region: string;
  readonly planPrice?: number;
}

export interface OnboardDependencies {
  readonly catalog: TenantCatalog;
  readonly tiers: TierCatalog;
  /** Built on first use, so bad input is refused before any client exists. */
  readonly cognito: () => CognitoIdentityProviderClient;
  readonly userPoolId: string;
  readonly actor: () => Promise<string>;
  readonly suppressInvitation: boolean;
}

export type StepOutcome = 'created' | 'exists';

export interface OnboardResult {
  readonly tenant: Tenant;
  /** False when the tenant was already fully onboarded: nothing was written. */
  readonly changed: boolean;
  readonly steps: readonly { readonly step: string; readonly outcome: StepOutcome }[];
}

/** Statuses from which re-running onboard may carry on. */
const RESUMABLE = new Set(['PROVISIONING', 'ACTIVE']);

/** Checks every field against its rule before anything is started or written (exit 2). */
export function validateOnboardRequest(input: OnboardRequest): OnboardRequest {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(input.region)) {
    throw usageError(
      'INVALID_REGION',
      `Invalid region "${input.region}": expected an AWS region name such as us-east-1.`,
    );
  }
  return {
    tenantId: assertTenantId(input.tenantId),
    tier: input.tier,
    name: assertDisplayName(input.name),
    adminEmail: assertEmail(input.adminEmail),
    region: input.region,
    ...(input.planPrice === undefined ? {} : { planPrice: assertPlanPrice(input.planPrice) }),
  };
}

/**
 * Pooled onboarding: record PROVISIONING -> Cognito group -> admin user -> ACTIVE. Every step
 * looks before it creates, so re-running (or running twice at once) converges on one record,
 * one group and one admin user.
 */
export async function onboardTenant(
  deps: OnboardDependencies,
  input: OnboardRequest,
  reporter: Reporter,
): Promise<OnboardResult> {
  const request = validateOnboardRequest(input);
  const tier = await deps.tiers.require(request.tier);
  if (!isPooled(tier.isolation)) {
    throw conflict(
      'SILO_NOT_SUPPORTED',
      `Tier "${tier.name}" is a ${tier.isolation} tier; silo onboarding is not supported yet.`,
      ['Onboard on a pooled tier (starter, pro, business) for now.'],
    );
  }
  const actor = await deps.actor();
  const steps: { step: string; outcome: StepOutcome }[] = [];

  let step = reporter.step(`tenant record ${request.tenantId}`);
  const { tenant: existing, created } = await deps.catalog.create(
    { ...request, isolation: tier.isolation },
    { actor, reason: 'onboard' },
  );
  if (!created) {
    assertSameRequest(existing, request);
    if (!RESUMABLE.has(existing.status)) {
      step.failed(existing.status);
      throw conflict(
        'TENANT_NOT_ONBOARDABLE',
        `Tenant "${request.tenantId}" exists and is ${existing.status}; onboarding cannot resume from there.`,
        existing.status === 'SUSPENDED' ? ['Resume it with `saasctl tenant resume`.'] : [],
      );
    }
  }
  steps.push({ step: 'record', outcome: created ? 'created' : 'exists' });
  if (created) step.done('PROVISIONING');
  else step.skipped(`exists, ${existing.status}`);

  const cognito = deps.cognito();
  step = reporter.step(`Cognito group ${tenantGroupName(request.tenantId)}`);
  const groupCreated = await ensureTenantGroup(cognito, deps.userPoolId, request.tenantId);
  steps.push({ step: 'group', outcome: groupCreated ? 'created' : 'exists' });
  if (groupCreated) step.done();
  else step.skipped();

  step = reporter.step(`admin user ${request.adminEmail}`);
  const user = await ensureAdminUser(cognito, {
    userPoolId: deps.userPoolId,
    tenantId: request.tenantId,
    tier: tier.name,
    email: request.adminEmail,
    suppressInvitation: deps.suppressInvitation,
  });
  steps.push({ step: 'adminUser', outcome: user.created ? 'created' : 'exists' });
  if (user.created) step.done();
  else step.skipped();

  step = reporter.step('activate');
  const activated = await deps.catalog.transition(request.tenantId, 'ACTIVE', {
    actor,
    action: 'activate',
    reason: 'onboarding complete',
  });
  steps.push({ step: 'activate', outcome: activated.changed ? 'created' : 'exists' });
  if (activated.changed) step.done('ACTIVE');
  else step.skipped('already ACTIVE');

  return { tenant: activated.tenant, changed: steps.some((s) => s.outcome === 'created'), steps };
}

/** Re-running onboard is idempotent only for the same request; anything else is a conflict. */
function assertSameRequest(existing: Tenant, request: OnboardRequest): void {
  const differences: string[] = [];
  if (existing.tier !== request.tier) differences.push(`tier is ${existing.tier}, not ${request.tier}`);
  if (existing.name !== request.name) differences.push(`name is "${existing.name}", not "${request.name}"`);
  if (existing.adminEmail !== request.adminEmail) {
    differences.push(`admin email is ${existing.adminEmail}, not ${request.adminEmail}`);
  }
  if (existing.region !== request.region)
    differences.push(`region is ${existing.region}, not ${request.region}`);
  if (differences.length === 0) return;
  throw conflict(
    'TENANT_EXISTS',
    `Tenant "${request.tenantId}" already exists and differs: its ${differences.join('; its ')}.`,
    [
      'Re-run onboard with the same values to resume it,',
      'or change it with `saasctl tenant update` (name, plan price); a tier change is a promotion.',
    ],
    { differences },
  );
}
