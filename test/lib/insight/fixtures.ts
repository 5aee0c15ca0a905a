import type { CostModel } from '../../../src/lib/insight/cost-model.js';
import type { UsageCounter } from '../../../src/lib/metering/counters.js';
import type { Tenant, TenantStatus } from '../../../src/lib/tenants/model.js';
import type { Tier } from '../../../src/lib/tenants/tiers.js';

/**
 * A fixed dataset for the insight tests: November 2026 (30 days, 720 hours), a cost model with
 * round unit costs, and tiers and tenants whose margins are computed by hand in the tests.
 */

export function counter(tenantId: string, metric: string, hour: string, quantity: number): UsageCounter {
  return {
    tenantId,
    metric,
    hour,
    quantity,
    aggregation: metric === 'storage.gb' ? 'max' : 'sum',
    updatedAt: '2026-12-01T00:00:00.000Z',
  };
}

export const COSTS: CostModel = {
  currency: 'USD',
  metrics: [
    { metric: 'api.call', usd: 0.1, per: 1000 },
    { metric: 'doc.processed', usd: 0.5, per: 1 },
    { metric: 'storage.gb', usd: 0.2, per: 1 },
  ],
  tiers: [
    { tier: 'business', fixedMonthlyUsd: 50 },
    { tier: 'enterprise', fixedMonthlyUsd: 1000 },
  ],
  version: 3,
};

const limits = (api: number, docs: number, gb: number) => [
  { metric: 'api.call', quantity: api },
  { metric: 'doc.processed', quantity: docs },
  { metric: 'storage.gb', quantity: gb },
];

export const TIERS: Tier[] = [
  { name: 'starter', isolation: 'pool', description: '', monthlyPrice: 49, limits: limits(100_000, 100, 10) },
  { name: 'pro', isolation: 'pool', description: '', monthlyPrice: 290, limits: limits(1_000_000, 500, 100) },
  {
    name: 'business',
    isolation: 'pool-dedicated-table',
    description: '',
    monthlyPrice: 990,
    limits: limits(5_000_000, 2_000, 500),
  },
  {
    name: 'enterprise',
    isolation: 'silo',
    description: '',
    monthlyPrice: 4900,
    limits: limits(20_000_000, 10_000, 2_000),
  },
];

export function tenant(
  tenantId: string,
  tier: string,
  extra: Partial<Pick<Tenant, 'planPrice' | 'createdAt'>> & { status?: TenantStatus } = {},
): Tenant {
  const isolation = TIERS.find((t) => t.name === tier)?.isolation ?? 'pool';
  return {
    tenantId,
    name: `Tenant ${tenantId}`,
    tier,
    isolation,
    status: extra.status ?? 'ACTIVE',
    region: 'us-east-1',
    adminEmail: `ops@${tenantId}.test`,
    version: 2,
    createdAt: extra.createdAt ?? '2026-10-01T00:00:00.000Z',
    updatedAt: '2026-10-01T00:00:00.000Z',
    ...(extra.planPrice === undefined ? {} : { planPrice: extra.planPrice }),
  };
}

export const TENANTS: Tenant[] = [
  tenant('acme', 'pro'),
  tenant('bolt', 'pro', { planPrice: 250 }),
  tenant('calm', 'starter'),
  tenant('dyno', 'starter'),
  tenant('echo', 'enterprise'),
  tenant('fade', 'pro', { status: 'DELETED' }),
  tenant('gone', 'starter', { status: 'PROVISIONING' }),
  tenant('hush', 'pro', { createdAt: '2026-12-05T00:00:00.000Z' }),
];

export const COUNTERS: UsageCounter[] = [
  // acme: 2,000,000 calls, 3,000 documents, 100 GB for the first 360 hours and 200 GB after.
  counter('acme', 'api.call', '2026-11-03T10', 1_500_000),
  counter('acme', 'api.call', '2026-11-20T08', 500_000),
  counter('acme', 'doc.processed', '2026-11-10T00', 3_000),
  counter('acme', 'storage.gb', '2026-11-01T00', 100),
  counter('acme', 'storage.gb', '2026-11-16T00', 200),
  counter('bolt', 'api.call', '2026-11-05T00', 100_000),
  counter('bolt', 'doc.processed', '2026-11-05T00', 100),
  counter('calm', 'api.call', '2026-11-07T12', 10_000),
  counter('calm', 'storage.gb', '2026-11-01T00', 5),
  counter('dyno', 'doc.processed', '2026-11-08T09', 200),
  counter('echo', 'doc.processed', '2026-11-15T15', 12_000),
  // Outside the month: never counted.
  counter('acme', 'api.call', '2026-10-31T23', 9_999_999),
  counter('acme', 'api.call', '2026-12-01T00', 9_999_999),
  // Not in the catalog.
  counter('stranger', 'api.call', '2026-11-02T00', 5),
];
