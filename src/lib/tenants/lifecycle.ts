import type { Platform } from '../platform/platform.js';
import type { TransitionResult } from './catalog.js';
import { catalogs, subscriptionRegistrar } from './context.js';
import {
  assertDisplayName,
  assertPlanPrice,
  assertReason,
  assertTenantId,
  type TenantStatus,
} from './model.js';
import {
  subscriptionOf,
  subscriptionUpdate,
  validateSubscription,
  type SubscriptionFields,
  type SubscriptionInput,
} from './subscription.js';

/** Opens the platform on demand, so input is refused before anything starts or is written. */
export type PlatformSource = () => Promise<Platform>;

/**
 * Operator status changes: suspend stops an ACTIVE tenant (its users get no tokens, its API
 * calls are refused); resume returns a SUSPENDED one to ACTIVE.
 */
const STATUS_CHANGES = {
  suspend: { to: 'SUSPENDED', from: ['ACTIVE'] },
  resume: { to: 'ACTIVE', from: ['SUSPENDED'] },
} as const satisfies Record<string, { to: TenantStatus; from: readonly TenantStatus[] }>;

export type StatusChange = keyof typeof STATUS_CHANGES;

export async function changeStatus(
  open: PlatformSource,
  action: StatusChange,
  tenantId: string,
  reason: string,
): Promise<TransitionResult> {
  const id = assertTenantId(tenantId);
  const why = assertReason(reason);
  const platform = await open();
  const { to, from } = STATUS_CHANGES[action];
  return catalogs(platform).catalog.transition(id, to, {
    action,
    from,
    actor: await platform.actor(),
    reason: why,
  });
}

export interface TenantUpdate extends SubscriptionInput {
  readonly name?: string;
  readonly planPrice?: number;
  readonly reason?: string;
}

/** Validates every field first, then one conditional write (nothing when nothing changes). */
export function validateUpdate(
  tenantId: string,
  update: TenantUpdate,
): { tenantId: string; update: TenantUpdate; subscription?: SubscriptionFields } {
  const subscription = validateSubscription(update);
  return {
    tenantId: assertTenantId(tenantId),
    update: {
      ...(update.name === undefined ? {} : { name: assertDisplayName(update.name) }),
      ...(update.planPrice === undefined ? {} : { planPrice: assertPlanPrice(update.planPrice) }),
      ...(update.reason === undefined ? {} : { reason: assertReason(update.reason) }),
      ...subscription,
    },
    ...(subscription ? { subscription } : {}),
  };
}

export async function updateTenant(
  open: PlatformSource,
  tenantId: string,
  update: TenantUpdate,
): Promise<TransitionResult> {
  const valid = validateUpdate(tenantId, update);
  const platform = await open();
  const result = await catalogs(platform).catalog.update(
    valid.tenantId,
    {
      name: valid.update.name,
      planPrice: valid.update.planPrice,
      ...(valid.subscription ? subscriptionUpdate(valid.subscription) : {}),
    },
    { actor: await platform.actor(), reason: valid.update.reason },
  );
  // Registered even when the record already had it: the emulator may have been reset since.
  const subscription = valid.subscription ? subscriptionOf(result.tenant) : undefined;
  const register = subscriptionRegistrar(platform);
  if (subscription && register) await register(subscription);
  return result;
}
