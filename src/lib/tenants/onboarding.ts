import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';

import { conflict, usageError } from '../cli/errors.js';
import { runStep, type Reporter } from '../cli/reporter.js';
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

  const record = await runStep(
    reporter,
    `tenant record ${request.tenantId}`,
    async () => {
      const result = await deps.catalog.create(
        { ...request, isolation: tier.isolation },
        { actor, reason: 'onboard' },
      );
      if (!result.created) assertResumable(result.tenant, request);
      return result;
    },
    (r) => ({ changed: r.created, detail: r.created ? 'PROVISIONING' : `exists, ${r.tenant.status}` }),
  );
  steps.push({ step: 'record', outcome: record.created ? 'created' : 'exists' });

  const cognito = deps.cognito();
  const groupCreated = await runStep(
    reporter,
    `Cognito group ${tenantGroupName(request.tenantId)}`,
    () => ensureTenantGroup(cognito, deps.userPoolId, request.tenantId),
    (created) => ({ changed: created }),
  );
  steps.push({ step: 'group', outcome: groupCreated ? 'created' : 'exists' });

  const user = await runStep(
    reporter,
    `admin user ${request.adminEmail}`,
    () =>
      ensureAdminUser(cognito, {
        userPoolId: deps.userPoolId,
        tenantId: request.tenantId,
        tier: tier.name,
        email: request.adminEmail,
        suppressInvitation: deps.suppressInvitation,
      }),
    (r) => ({ changed: r.created }),
  );
  steps.push({ step: 'adminUser', outcome: user.created ? 'created' : 'exists' });

  const activated = await runStep(
    reporter,
    'activate',
    () =>
      deps.catalog.transition(request.tenantId, 'ACTIVE', {
        actor,
        action: 'activate',
        reason: 'onboarding complete',
      }),
    (r) => ({ changed: r.changed, detail: r.changed ? 'ACTIVE' : 'already ACTIVE' }),
  );
  steps.push({ step: 'activate', outcome: activated.changed ? 'created' : 'exists' });

  return { tenant: activated.tenant, changed: steps.some((s) => s.outcome === 'created'), steps };
}

/**
 * Re-running onboard is idempotent only for the same request, and only while the tenant is
 * PROVISIONING or ACTIVE; anything else is a conflict.
 */
function assertResumable(existing: Tenant, request: OnboardRequest): void {
  assertSameRequest(existing, request);
  if (RESUMABLE.has(existing.status)) return;
  throw conflict(
    'TENANT_NOT_ONBOARDABLE',
    `Tenant "${request.tenantId}" exists and is ${existing.status}; onboarding cannot resume from there.`,
    existing.status === 'SUSPENDED' ? ['Resume it with `saasctl tenant resume`.'] : [],
  );
}

function assertSameRequest(existing: Tenant, request: OnboardRequest): void {
  const differences: string[] = [];
  if (existing.tier !== request.tier) differences.push(`tier is ${existing.tier}, not ${request.tier}`);
  if (existing.name !== request.name) differences.push(`name is "${existing.name}", not "${request.name}"`);
  if (existing.adminEmail !== request.adminEmail) {
    differences.push(`admin email is ${existing.adminEmail}, not ${request.adminEmail}`);
  }
  if (existing.region !== request.region)
    differences.push(`region is ${existing.region}, not ${request.region}`);
  if (request.planPrice !== undefined && existing.planPrice !== request.planPrice) {
    differences.push(`plan price is ${existing.planPrice ?? 'the tier price'}, not ${request.planPrice}`);
  }
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
