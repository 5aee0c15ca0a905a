import { usageError } from '../cli/errors.js';
import type { UsageCounter } from '../metering/counters.js';
import type { MetricRegistry } from '../metering/metrics.js';
import type { HourKey } from '../metering/types.js';
import type { Tenant, TenantStatus } from '../tenants/model.js';
import { isPooled, type Tier } from '../tenants/tiers.js';
import { aggregationOf, monthWindow, planLimit, round } from './usage.js';

/**
 * Noisy neighbours (README "Operator insight"), pure. Only the pool is shared, so only pooled
 * tenants (not PROVISIONING or DELETED) are weighed, and only summed metrics (rates: a stock
 * such as storage.gb does not crowd an hour). For a metric in an hour:
 *
 *   share(t)          = t's quantity / the quantity of every pooled tenant
 *   expected share(t) = t's plan limit / the sum of the plan limits of every pooled tenant
 *                       (a plan's allowance is what its tenants may use)
 *   hourly allowance  = t's plan limit / hours in the month
 *
 * t is noisy when share > factor x expected share AND quantity > hourly allowance: out of
 * proportion to its tier, and above its own plan's pace (a tenant alone in a quiet hour is not).
 */

export const DEFAULT_NOISY_FACTOR = 3;
export const MAX_NOISY_FACTOR = 1000;

export interface NoisyTenant {
  readonly tenantId: string;
  readonly tier: string;
  readonly metric: string;
  readonly quantity: number;
  readonly share: number;
  readonly expectedShare: number;
  /** share / expectedShare; null when the plan allows none (a limit of 0). */
  readonly ratio: number | null;
  readonly hourlyAllowance: number;
}

export interface MetricHour {
  readonly metric: string;
  /** The pooled tenants' total in the hour. */
  readonly total: number;
  /** Pooled tenants with usage in the hour. */
  readonly activeTenants: number;
  /** Pooled tenants the expected shares are spread over. */
  readonly poolTenants: number;
}

export interface NoisyReport {
  readonly hour: HourKey;
  readonly factor: number;
  readonly metrics: readonly MetricHour[];
  /** Most out of proportion first. */
  readonly noisy: readonly NoisyTenant[];
  readonly notes: readonly string[];
}

export function assertNoisyFactor(value: string | number): number {
  const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number) || number <= 1 || number > MAX_NOISY_FACTOR) {
    throw usageError(
      'INVALID_FACTOR',
      `Invalid --factor ${JSON.stringify(value)}: a number above 1 and at most ${MAX_NOISY_FACTOR} (how many times its expected share a tenant may use).`,
    );
  }
  return number;
}

const OUT_OF_POOL: readonly TenantStatus[] = ['PROVISIONING', 'DELETED'];

export function noisyNeighbours(input: {
  readonly hour: HourKey;
  readonly counters: readonly UsageCounter[];
  readonly tenants: readonly Tenant[];
  readonly tiers: readonly Tier[];
  readonly registry: MetricRegistry;
  readonly factor?: number;
}): NoisyReport {
  const factor = input.factor ?? DEFAULT_NOISY_FACTOR;
  const hoursInMonth = monthWindow(input.hour.slice(0, 7)).hours;
  const tiers = new Map(input.tiers.map((t) => [t.name, t]));
  const pool = new Map(
    input.tenants
      .filter((t) => isPooled(t.isolation) && !OUT_OF_POOL.includes(t.status))
      .map((t) => [t.tenantId, t]),
  );
  const notes: string[] = [];
  const counters = input.counters.filter(
    (c) => c.hour === input.hour && pool.has(c.tenantId) && aggregationOf(c, input.registry) === 'sum',
  );
  const metricNames = [...new Set(counters.map((c) => c.metric))].sort();
  const metrics: MetricHour[] = [];
  const noisy: NoisyTenant[] = [];
  for (const metric of metricNames) {
    const usage = new Map<string, number>();
    for (const c of counters)
      if (c.metric === metric) usage.set(c.tenantId, (usage.get(c.tenantId) ?? 0) + c.quantity);
    const total = [...usage.values()].reduce((sum, q) => sum + q, 0);
    const weighed = [...pool.values()].filter((t) => planLimit(tiers.get(t.tier), metric) !== undefined);
    const unweighed = [...pool.keys()].filter((id) => !weighed.some((t) => t.tenantId === id));
    if (unweighed.length > 0) {
      notes.push(`${metric}: no plan limit for ${unweighed.sort().join(', ')}; not judged.`);
    }
    const totalLimits = weighed.reduce((sum, t) => sum + (planLimit(tiers.get(t.tier), metric) ?? 0), 0);
    metrics.push({ metric, total, activeTenants: usage.size, poolTenants: pool.size });
    if (total <= 0 || totalLimits <= 0) continue;
    for (const tenant of weighed) {
      const quantity = usage.get(tenant.tenantId) ?? 0;
      const limit = planLimit(tiers.get(tenant.tier), metric) ?? 0;
      const share = quantity / total;
      const expectedShare = limit / totalLimits;
      const hourlyAllowance = limit / hoursInMonth;
      if (share > factor * expectedShare && quantity > hourlyAllowance) {
        noisy.push({
          tenantId: tenant.tenantId,
          tier: tenant.tier,
          metric,
          quantity,
          share: round(share, 4),
          expectedShare: round(expectedShare, 4),
          ratio: expectedShare > 0 ? round(share / expectedShare, 2) : null,
          hourlyAllowance: round(hourlyAllowance, 3),
        });
      }
    }
  }
  const ratio = (n: NoisyTenant): number => n.ratio ?? Number.POSITIVE_INFINITY;
  noisy.sort(
    (a, b) => ratio(b) - ratio(a) || a.metric.localeCompare(b.metric) || a.tenantId.localeCompare(b.tenantId),
  );
  return { hour: input.hour, factor, metrics, noisy, notes };
}
