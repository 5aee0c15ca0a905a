import { expect } from 'chai';

import { marginReport, type MarginRow } from '../../../src/lib/insight/margin.js';
import { monthWindow } from '../../../src/lib/insight/usage.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { COSTS, COUNTERS, TENANTS, TIERS, counter, tenant } from './fixtures.js';

const window = monthWindow('2026-11');

function report() {
  return marginReport({
    window,
    tenants: TENANTS,
    tiers: TIERS,
    costModel: COSTS,
    counters: COUNTERS,
    registry: new MetricRegistry(),
  });
}

function row(id: string): MarginRow {
  const found = report().tenants.find((t) => t.tenantId === id);
  if (!found) expect.fail(`no row for ${id}`);
  return found;
}

describe('marginReport on a fixed dataset (values computed by hand)', () => {
  it('prices a heavy Pro tenant: $200 of calls, $1,500 of documents, 150 GB-months at $0.20', () => {
    // api.call 2,000,000 / 1,000 x $0.10 = $200; doc.processed 3,000 x $0.50 = $1,500;
    // storage.gb (100 GB x 360 h + 200 GB x 360 h) / 720 h = 150 GB-months x $0.20 = $30.
    const acme = row('acme');
    expect(acme.metrics).to.deep.equal([
      {
        metric: 'api.call',
        aggregation: 'sum',
        billable: 2_000_000,
        costUsd: 200,
        multiple: 1.9,
        limit: 1_000_000,
      },
      {
        metric: 'doc.processed',
        aggregation: 'sum',
        billable: 3_000,
        costUsd: 1500,
        multiple: 1.94,
        limit: 500,
      },
      { metric: 'storage.gb', aggregation: 'max', billable: 150, costUsd: 30, multiple: 2, limit: 100 },
    ]);
    expect(acme).to.deep.include({
      revenue: 290,
      priceSource: 'tier',
      variableCost: 1730,
      fixedCost: 0,
      cost: 1730,
      margin: -1440,
      marginPct: -496.6,
      // 1,730 / ((1,730 + 60) / 2) = 1.933
      usageMultiple: 1.93,
      flagged: true,
    });
  });

  it('recommends promoting it to a silo: business does not cover it, enterprise does', () => {
    // business: 1,730 + 50 fixed = 1,780 > 990. enterprise: 1,730 + 1,000 = 2,730 <= 4,900.
    expect(row('acme').recommendation).to.deep.equal({
      action: 'promote',
      tier: 'enterprise',
      price: 4900,
      costOnTier: 2730,
      marginOnTier: 2170,
      summary:
        'Promote to a silo on enterprise: $4,900.00/month covers its cost to serve of $2,730.00 (margin $2,170.00), where $290.00 does not cover $1,730.00.',
    });
  });

  it("uses a tenant's own plan price as its revenue", () => {
    // $10 of calls + $50 of documents against $250.
    expect(row('bolt')).to.deep.include({
      revenue: 250,
      priceSource: 'tenant',
      cost: 60,
      margin: 190,
      marginPct: 76,
      usageMultiple: 0.07,
      flagged: false,
    });
    expect(row('bolt').recommendation).to.equal(undefined);
  });

  it('recommends the next pooled tier when its price covers the cost', () => {
    // dyno: 200 documents = $100 against $49; pro at $290 covers $100.
    expect(row('dyno')).to.deep.include({
      cost: 100,
      margin: -51,
      marginPct: -104.1,
      usageMultiple: 1.96,
      flagged: true,
    });
    expect(row('dyno').recommendation).to.deep.include({
      action: 'upgrade',
      tier: 'pro',
      price: 290,
      costOnTier: 100,
      marginOnTier: 190,
    });
    // calm: 10,000 calls = $1 and 5 GB all month = 5 GB-months = $1.
    expect(row('calm')).to.deep.include({
      cost: 2,
      margin: 47,
      marginPct: 95.9,
      usageMultiple: 0.04,
      flagged: false,
    });
  });

  it('recommends throttling when no tier covers the cost, with the share the revenue pays for', () => {
    // echo: 12,000 documents = $6,000 + $1,000 fixed = $7,000 against $4,900; no dearer tier.
    // The revenue pays for (4,900 - 1,000) / 6,000 = 65 % of the usage: 7,800 documents.
    const echo = row('echo');
    expect(echo).to.deep.include({
      variableCost: 6000,
      fixedCost: 1000,
      cost: 7000,
      margin: -2100,
      marginPct: -42.9,
    });
    expect(echo.recommendation).to.deep.equal({
      action: 'throttle',
      allowedShare: 0.65,
      targets: [{ metric: 'doc.processed', billable: 12_000, allowed: 7_800, limit: 10_000 }],
      summary:
        "No tier's price covers its cost to serve of $7,000.00: throttle usage to 65 % of this month's (to its plan limits), or price a contract above $7,000.00.",
    });
  });

  it('leaves out deleted, provisioning and later tenants without usage, and notes usage of unknown tenants', () => {
    const result = report();
    expect(result.tenants.map((t) => t.tenantId)).to.deep.equal(['echo', 'acme', 'dyno', 'calm', 'bolt']);
    expect(result.flagged).to.deep.equal(['echo', 'acme', 'dyno']);
    expect(result.totals).to.deep.equal({ revenue: 5538, cost: 8892, margin: -3354, tenants: 5, flagged: 3 });
    expect(result.notes).to.deep.equal(['Usage of tenants not in the catalog is left out: stranger.']);
    expect(result.tierAverages).to.deep.equal([
      { tier: 'enterprise', tenants: 1, variableCost: 6000, billable: { 'doc.processed': 12_000 } },
      {
        tier: 'pro',
        tenants: 2,
        variableCost: 895,
        billable: { 'api.call': 1_050_000, 'doc.processed': 1_550, 'storage.gb': 75 },
      },
      {
        tier: 'starter',
        tenants: 2,
        variableCost: 51,
        billable: { 'api.call': 5_000, 'storage.gb': 2.5, 'doc.processed': 100 },
      },
    ]);
  });

  it('flags a deleted tenant that still has usage in the month', () => {
    const result = marginReport({
      window,
      tenants: [tenant('fade', 'starter', { status: 'DELETED' })],
      tiers: TIERS,
      costModel: COSTS,
      counters: [counter('fade', 'doc.processed', '2026-11-02T00', 100)],
      registry: new MetricRegistry(),
    });
    expect(result.tenants.map((t) => [t.tenantId, t.cost, t.margin])).to.deep.equal([['fade', 50, -1]]);
  });

  it("recommends repricing to the list price when the tenant's own price is what fails", () => {
    const result = marginReport({
      window,
      tenants: [tenant('cheap', 'starter', { planPrice: 20 })],
      tiers: TIERS,
      costModel: COSTS,
      counters: [counter('cheap', 'doc.processed', '2026-11-02T00', 60)],
      registry: new MetricRegistry(),
    });
    expect(result.tenants[0].recommendation).to.deep.include({
      action: 'reprice',
      tier: 'starter',
      price: 49,
      costOnTier: 30,
      marginOnTier: 19,
    });
  });

  it('counts a metric the cost model does not price at $0 and says so', () => {
    const result = marginReport({
      window,
      tenants: [tenant('calm', 'starter')],
      tiers: TIERS,
      costModel: { ...COSTS, metrics: COSTS.metrics.filter((m) => m.metric !== 'api.call') },
      counters: [counter('calm', 'api.call', '2026-11-02T00', 50_000)],
      registry: new MetricRegistry(),
    });
    expect(result.tenants[0].cost).to.equal(0);
    expect(result.notes).to.deep.equal([
      'The cost model prices no api.call: counted at $0 (see `saasctl cost set`).',
    ]);
  });

  it('flags nothing at exactly zero margin', () => {
    const result = marginReport({
      window,
      tenants: [tenant('even', 'starter')],
      tiers: TIERS,
      costModel: COSTS,
      counters: [counter('even', 'doc.processed', '2026-11-02T00', 98)],
      registry: new MetricRegistry(),
    });
    expect(result.tenants[0]).to.deep.include({ cost: 49, margin: 0, flagged: false });
  });
});
