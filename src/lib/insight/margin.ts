import type { UsageCounter } from '../metering/counters.js';
import type { MetricRegistry } from '../metering/metrics.js';
import type { Aggregation } from '../metering/types.js';
import type { IsolationModel, Tenant, TenantStatus } from '../tenants/model.js';
import { isPooled, type Tier } from '../tenants/tiers.js';
import { fixedCost, metricCost, type CostModel } from './cost-model.js';
import { monthUsage, planLimit, round, type MonthWindow } from './usage.js';

/**
 * Per-tenant margin for a month (README "Operator insight"), pure:
 *
 *   revenue       = the tenant's planPrice, else its tier's monthlyPrice (the whole month)
 *   metric cost   = billable / per x usd, billable being the month's total for a summed metric
 *                   and its unit-months (usage.ts unitMonths) for a max metric
 *   variable cost = the sum of the metric costs
 *   cost to serve = variable cost + the tier's fixed monthly cost
 *   margin        = revenue - cost to serve; flagged when negative (after rounding to cents)
 *   usage multiple = variable cost / the mean variable cost of the report's tenants on the
 *                   same tier (per metric: billable / the tier's mean billable)
 */

export interface MarginInput {
  readonly window: MonthWindow;
  readonly tenants: readonly Tenant[];
  readonly tiers: readonly Tier[];
  readonly costModel: CostModel;
  /** The month's counters, any tenants. */
  readonly counters: readonly UsageCounter[];
  readonly registry: MetricRegistry;
}

export interface MetricLine {
  readonly metric: string;
  readonly aggregation: Aggregation;
  /** What was priced: the month's total, or unit-months for a max metric. */
  readonly billable: number;
  readonly costUsd: number;
  /** billable / the tier's mean billable; null when that mean is 0. */
  readonly multiple: number | null;
  readonly limit?: number;
}

export type Recommendation =
  | {
      /** upgrade: a higher pooled (or silo to silo) tier; promote: from the pool to a silo; reprice: back to the tier's list price. */
      readonly action: 'upgrade' | 'promote' | 'reprice';
      readonly tier: string;
      readonly price: number;
      /** Cost to serve on that tier: the same usage plus that tier's fixed cost. */
      readonly costOnTier: number;
      readonly marginOnTier: number;
      readonly summary: string;
    }
  | {
      readonly action: 'throttle';
      /** The share of this month's variable usage the revenue pays for (0-1). */
      readonly allowedShare: number;
      readonly targets: readonly {
        readonly metric: string;
        readonly billable: number;
        readonly allowed: number;
        readonly limit?: number;
      }[];
      readonly summary: string;
    };

export interface MarginRow {
  readonly tenantId: string;
  readonly name: string;
  readonly tier: string;
  readonly isolation: IsolationModel;
  readonly status: TenantStatus;
  readonly revenue: number;
  /** tenant: a planPrice override; tier: the tier's list price. */
  readonly priceSource: 'tenant' | 'tier';
  readonly metrics: readonly MetricLine[];
  readonly variableCost: number;
  readonly fixedCost: number;
  readonly cost: number;
  readonly margin: number;
  /** margin / revenue as a percentage; null when revenue is 0. */
  readonly marginPct: number | null;
  /** variableCost / the tier's mean variable cost; null when that mean is 0. */
  readonly usageMultiple: number | null;
  readonly flagged: boolean;
  readonly recommendation?: Recommendation;
}

export interface TierAverage {
  readonly tier: string;
  readonly tenants: number;
  readonly variableCost: number;
  readonly billable: Readonly<Record<string, number>>;
}

export interface MarginReport {
  readonly month: string;
  readonly currency: 'USD';
  /** Worst margin first. */
  readonly tenants: readonly MarginRow[];
  readonly tierAverages: readonly TierAverage[];
  readonly totals: {
    readonly revenue: number;
    readonly cost: number;
    readonly margin: number;
    readonly tenants: number;
    readonly flagged: number;
  };
  readonly flagged: readonly string[];
  readonly costModel: CostModel;
  readonly notes: readonly string[];
}

/** Statuses that neither pay nor use: left out unless they have usage in the month. */
const NOT_BILLED: readonly TenantStatus[] = ['PROVISIONING', 'DELETED'];

export function marginReport(input: MarginInput): MarginReport {
  const { window, costModel, registry } = input;
  const notes: string[] = [];
  const tiers = new Map(input.tiers.map((t) => [t.name, t]));
  const byTenant = new Map<string, UsageCounter[]>();
  for (const counter of input.counters) {
    if (counter.hour < window.from || counter.hour > window.to) continue;
    const list = byTenant.get(counter.tenantId) ?? [];
    list.push(counter);
    byTenant.set(counter.tenantId, list);
  }
  const known = new Set(input.tenants.map((t) => t.tenantId));
  const strangers = [...byTenant.keys()].filter((id) => !known.has(id)).sort();
  if (strangers.length > 0) {
    notes.push(`Usage of tenants not in the catalog is left out: ${strangers.join(', ')}.`);
  }
  const monthEnd = new Date(Date.UTC(Number(window.month.slice(0, 4)), Number(window.month.slice(5, 7)), 1));
  const included = input.tenants
    .filter(
      (t) => byTenant.has(t.tenantId) || (!NOT_BILLED.includes(t.status) && new Date(t.createdAt) < monthEnd),
    )
    .sort((a, b) => (a.tenantId < b.tenantId ? -1 : 1));

  const unpriced = new Set<string>();
  const base = included.map((tenant) => {
    const tier = tiers.get(tenant.tier);
    if (!tier)
      notes.push(`Tenant ${tenant.tenantId} is on tier ${tenant.tier}, which the catalog lacks: revenue 0.`);
    const metrics = monthUsage(byTenant.get(tenant.tenantId) ?? [], window, registry).map((m) => {
      const unit = metricCost(costModel, m.metric);
      if (!unit) unpriced.add(m.metric);
      return { ...m, costUsd: unit ? (m.billable / unit.per) * unit.usd : 0 };
    });
    const variableCost = metrics.reduce((sum, m) => sum + m.costUsd, 0);
    const revenue = tenant.planPrice ?? tier?.monthlyPrice ?? 0;
    return { tenant, tier, metrics, variableCost, revenue, fixed: fixedCost(costModel, tenant.tier) };
  });
  if (unpriced.size > 0) {
    notes.push(
      `The cost model prices no ${[...unpriced].sort().join(', ')}: counted at $0 (see \`saasctl cost set\`).`,
    );
  }

  const averages = tierAverages(base);
  const sortedTiers = [...input.tiers].sort(
    (a, b) => a.monthlyPrice - b.monthlyPrice || (a.name < b.name ? -1 : 1),
  );
  const rows: MarginRow[] = base.map(({ tenant, tier, metrics, variableCost, revenue, fixed }) => {
    const average = averages.get(tenant.tier);
    const cost = variableCost + fixed;
    const margin = round(revenue - cost, 2);
    const lines: MetricLine[] = metrics.map((m) => {
      const mean = average?.billable[m.metric] ?? 0;
      const limit = planLimit(tier, m.metric);
      return {
        metric: m.metric,
        aggregation: m.aggregation,
        billable: round(m.billable, 3),
        costUsd: round(m.costUsd, 2),
        multiple: mean > 0 ? round(m.billable / mean, 2) : null,
        ...(limit === undefined ? {} : { limit }),
      };
    });
    const flagged = margin < 0;
    const row: MarginRow = {
      tenantId: tenant.tenantId,
      name: tenant.name,
      tier: tenant.tier,
      isolation: tenant.isolation,
      status: tenant.status,
      revenue: round(revenue, 2),
      priceSource: tenant.planPrice === undefined ? 'tier' : 'tenant',
      metrics: lines,
      variableCost: round(variableCost, 2),
      fixedCost: round(fixed, 2),
      cost: round(cost, 2),
      margin,
      marginPct: revenue > 0 ? round((100 * (revenue - cost)) / revenue, 1) : null,
      usageMultiple:
        average && average.variableCost > 0 ? round(variableCost / average.variableCost, 2) : null,
      flagged,
    };
    if (!flagged) return row;
    return {
      ...row,
      recommendation: recommend(tenant, tier, revenue, variableCost, fixed, metrics, sortedTiers, costModel),
    };
  });
  rows.sort((a, b) => a.margin - b.margin || (a.tenantId < b.tenantId ? -1 : 1));
  const revenue = base.reduce((sum, b) => sum + b.revenue, 0);
  const cost = base.reduce((sum, b) => sum + b.variableCost + b.fixed, 0);
  const flagged = rows.filter((r) => r.flagged).map((r) => r.tenantId);
  return {
    month: window.month,
    currency: 'USD',
    tenants: rows,
    tierAverages: [...averages.values()].map((a) => ({
      tier: a.tier,
      tenants: a.tenants,
      variableCost: round(a.variableCost, 2),
      billable: Object.fromEntries(Object.entries(a.billable).map(([m, v]) => [m, round(v, 3)])),
    })),
    totals: {
      revenue: round(revenue, 2),
      cost: round(cost, 2),
      margin: round(revenue - cost, 2),
      tenants: rows.length,
      flagged: flagged.length,
    },
    flagged,
    costModel,
    notes,
  };
}

function tierAverages(
  base: readonly {
    tenant: Tenant;
    metrics: readonly { metric: string; billable: number }[];
    variableCost: number;
  }[],
): Map<string, TierAverage> {
  const groups = new Map<string, typeof base>();
  for (const entry of base) groups.set(entry.tenant.tier, [...(groups.get(entry.tenant.tier) ?? []), entry]);
  const averages = new Map<string, TierAverage>();
  for (const [tier, entries] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const billable: Record<string, number> = {};
    for (const entry of entries) {
      for (const m of entry.metrics)
        billable[m.metric] = (billable[m.metric] ?? 0) + m.billable / entries.length;
    }
    averages.set(tier, {
      tier,
      tenants: entries.length,
      variableCost: entries.reduce((sum, e) => sum + e.variableCost, 0) / entries.length,
      billable,
    });
  }
  return averages;
}

/**
 * For a negative margin: the cheapest tier (by list price, then name) that raises the revenue and
 * whose price covers the same usage plus that tier's fixed cost. It is a reprice when that is
 * the tenant's own tier (it pays less than the list price), a promotion when it takes a pooled
 * tenant to a silo, an upgrade otherwise. When no tier covers it: throttle the variable usage to
 * the share the revenue pays for, (revenue - fixed cost) / variable cost.
 */
export function recommend(
  tenant: Tenant,
  tier: Tier | undefined,
  revenue: number,
  variableCost: number,
  fixed: number,
  metrics: readonly { metric: string; billable: number }[],
  tiersByPrice: readonly Tier[],
  costModel: CostModel,
): Recommendation {
  const cost = variableCost + fixed;
  for (const candidate of tiersByPrice) {
    if (candidate.monthlyPrice <= revenue) continue;
    const costOnTier = variableCost + fixedCost(costModel, candidate.name);
    if (candidate.monthlyPrice < costOnTier) continue;
    const action =
      candidate.name === tenant.tier
        ? 'reprice'
        : isPooled(tenant.isolation) && !isPooled(candidate.isolation)
          ? 'promote'
          : 'upgrade';
    const verb =
      action === 'reprice'
        ? `Reprice to the ${candidate.name} list price`
        : action === 'promote'
          ? `Promote to a silo on ${candidate.name}`
          : `Upgrade to ${candidate.name}`;
    const marginOnTier = round(candidate.monthlyPrice - costOnTier, 2);
    return {
      action,
      tier: candidate.name,
      price: candidate.monthlyPrice,
      costOnTier: round(costOnTier, 2),
      marginOnTier,
      summary: `${verb}: $${money(candidate.monthlyPrice)}/month covers its cost to serve of $${money(costOnTier)} (margin $${money(marginOnTier)}), where $${money(revenue)} does not cover $${money(cost)}.`,
    };
  }
  const allowedShare = variableCost > 0 ? Math.max(0, Math.min(1, (revenue - fixed) / variableCost)) : 0;
  const targets = metrics.map((m) => {
    const limit = planLimit(tier, m.metric);
    return {
      metric: m.metric,
      billable: round(m.billable, 3),
      allowed: round(m.billable * allowedShare, 3),
      ...(limit === undefined ? {} : { limit }),
    };
  });
  return {
    action: 'throttle',
    allowedShare: round(allowedShare, 4),
    targets,
    summary: `No tier's price covers its cost to serve of $${money(cost)}: throttle usage to ${round(100 * allowedShare, 1)} % of this month's (to its plan limits), or price a contract above $${money(cost)}.`,
  };
}

function money(value: number): string {
  return round(value, 2).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
