import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  type BatchMeterUsageCommandInput,
  type UsageRecord,
  type UsageRecordResult,
} from '@aws-sdk/client-marketplace-metering';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import type { Reporter } from '../../../src/lib/cli/reporter.js';
import type { CounterPeriod, UsageCounter } from '../../../src/lib/metering/counters.js';
import type { LedgerQuery, LedgerRecord, PushLease } from '../../../src/lib/metering/ledger.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import {
  crashSwitch,
  isPartial,
  pushPeriod,
  pushUsage,
  type CrashPoint,
  type PushDependencies,
} from '../../../src/lib/metering/push.js';
import type { Tenant } from '../../../src/lib/tenants/model.js';
import { DEFAULT_TIERS } from '../../../src/lib/tenants/tiers.js';
import { awsError, rejectionOf, thrownBy } from '../helpers/aws.js';

const NOW = new Date('2026-11-27T12:30:00.000Z');
const ACCOUNT = '111122223333';
const LICENSE = `arn:aws:license-manager::${ACCOUNT}:license:l-0123456789abcdef0123456789abcdef`;

function tenant(tenantId: string, overrides: Partial<Tenant> = {}): Tenant {
  return {
    tenantId,
    name: tenantId,
    tier: 'pro',
    isolation: 'pool',
    status: 'ACTIVE',
    region: 'us-east-1',
    adminEmail: `ops@${tenantId}.test`,
    version: 2,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    // Each tenant its own buyer: acme the account above, the others one of their own.
    marketplaceAccountId: tenantId === 'acme' ? ACCOUNT : String(200000000000 + tenantId.charCodeAt(0)),
    licenseArn: LICENSE,
    ...overrides,
  };
}

/** The ledger in memory, logging every write in order. */
class MemoryLedger {
  readonly items = new Map<string, LedgerRecord>();
  readonly log: string[] = [];
  completed?: Date;
  holder?: PushLease;

  async list(query: LedgerQuery): Promise<LedgerRecord[]> {
    return [...this.items.values()].filter(
      (r) => (!query.tenantId || r.tenantId === query.tenantId) && r.hour >= query.from && r.hour <= query.to,
    );
  }
  async put(records: readonly LedgerRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.log.push(`ledger ${records.map((r) => `${r.dimension}@${r.hour.slice(11)}=${r.state}`).join(' ')}`);
    for (const r of records) this.items.set(`${r.tenantId}#${r.hour}#${r.dimension}`, r);
  }
  async remove(records: readonly LedgerRecord[]): Promise<void> {
    for (const r of records) this.items.delete(`${r.tenantId}#${r.hour}#${r.dimension}`);
  }
  async acquire(runId: string, now: number): Promise<PushLease> {
    this.holder = { runId, host: 'here', pid: 1, expiresAt: now + 600_000 };
    return this.holder;
  }
  async renew(): Promise<boolean> {
    return true;
  }
  async release(): Promise<void> {
    this.holder = undefined;
  }
  async lastCompleted(): Promise<Date | undefined> {
    return this.completed;
  }
  async recordCompleted(_runId: string, at: Date): Promise<void> {
    this.completed = at;
  }
  byState(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.items.values()) counts[r.state] = (counts[r.state] ?? 0) + 1;
    return counts;
  }
}

class Crash extends Error {}

describe('pushUsage', () => {
  let marketplace: AwsClientStub<MarketplaceMeteringClient>;
  let client: MarketplaceMeteringClient;
  /** What the mocked AWS honoured, by customer, dimension and hour, as the emulator keeps it. */
  let honoured: Map<string, number>;
  let ledger: MemoryLedger;
  let counters: UsageCounter[];
  let tenants: Tenant[];

  before(() => {
    marketplace = mockClient(MarketplaceMeteringClient);
    client = new MarketplaceMeteringClient({ region: 'us-east-1' });
  });
  after(() => {
    marketplace.restore();
    client.destroy();
  });

  /** AWS's rules for identical and duplicate records. */
  function actLikeAws(): void {
    marketplace.on(BatchMeterUsageCommand).callsFake((input: BatchMeterUsageCommandInput) => {
      const results: UsageRecordResult[] = (input.UsageRecords ?? []).map((r: UsageRecord) => {
        const key = `${r.CustomerAWSAccountId}|${r.Dimension}|${r.Timestamp?.toISOString()}`;
        const previous = honoured.get(key);
        if (previous === undefined) honoured.set(key, r.Quantity ?? 0);
        const status = previous === undefined || previous === r.Quantity ? 'Success' : 'DuplicateRecord';
        ledger.log.push(`call ${r.Dimension}@${r.Timestamp?.toISOString().slice(11, 13)}`);
        return { UsageRecord: r, Status: status, ...(status === 'Success' ? { MeteringRecordId: key } : {}) };
      });
      return { Results: results, UnprocessedRecords: [] };
    });
  }

  function counter(tenantId: string, metric: string, hour: number, quantity: number): UsageCounter {
    return {
      tenantId,
      metric,
      hour: `2026-11-27T${String(hour).padStart(2, '0')}`,
      quantity,
      aggregation: 'sum',
      updatedAt: NOW.toISOString(),
    };
  }

  function deps(overrides: Partial<PushDependencies> = {}): PushDependencies {
    return {
      ledger,
      counters: {
        getMany: async (keys) =>
          counters.filter((c) =>
            keys.some((k) => k.tenantId === c.tenantId && k.metric === c.metric && k.hour === c.hour),
          ),
        list: async (period: CounterPeriod) =>
          counters.filter(
            (c) =>
              c.tenantId === period.tenantId &&
              c.hour >= period.from &&
              c.hour <= period.to &&
              (!period.metrics || period.metrics.includes(c.metric)),
          ),
      },
      tenants: async () => tenants,
      tiers: async () => DEFAULT_TIERS,
      registry: new MetricRegistry(),
      marketplace: () => client,
      now: () => NOW,
      callsPerSecond: 1000,
      meter: { sleep: async () => undefined },
      ...overrides,
    };
  }

  function billedUnits(): number {
    return [...honoured.values()].reduce((a, b) => a + b, 0);
  }

  beforeEach(() => {
    marketplace.reset();
    honoured = new Map();
    ledger = new MemoryLedger();
    tenants = [tenant('acme')];
    counters = [
      counter('acme', 'api.call', 3, 40),
      counter('acme', 'api.call', 9, 10),
      counter('acme', 'api.call', 10, 20),
      counter('acme', 'doc.processed', 10, 5),
    ];
    actLikeAws();
  });

  it('writes the plan PENDING, each batch SENT just before its call, and its results after', async () => {
    const result = await pushUsage(deps(), { since: '2026-11-27T00:00:00Z' });

    expect(ledger.log).to.deep.equal([
      'ledger api_calls@07=PENDING api_calls@09=PENDING api_calls@10=PENDING documents@10=PENDING',
      'ledger api_calls@07=SENT api_calls@09=SENT api_calls@10=SENT documents@10=SENT',
      'call api_calls@07',
      'call api_calls@09',
      'call api_calls@10',
      'call documents@10',
      'ledger api_calls@07=ACCEPTED api_calls@09=ACCEPTED api_calls@10=ACCEPTED documents@10=ACCEPTED',
    ]);
    expect(marketplace.commandCalls(BatchMeterUsageCommand).map((c) => c.args[0].input)).to.deep.equal([
      {
        UsageRecords: [
          ['api_calls', '07', 40],
          ['api_calls', '09', 10],
          ['api_calls', '10', 20],
          ['documents', '10', 5],
        ].map(([Dimension, hour, Quantity]) => ({
          Timestamp: new Date(`2026-11-27T${hour}:00:00.000Z`),
          Dimension,
          Quantity,
          CustomerAWSAccountId: ACCOUNT,
          LicenseArn: LICENSE,
        })),
      },
    ]);
    expect(result.totals).to.deep.equal({
      records: 4,
      accepted: 4,
      duplicate: 0,
      rejected: 0,
      inFlight: 0,
      unitsAccepted: 75,
    });
    expect(result.carried).to.deep.equal([
      {
        tenantId: 'acme',
        metric: 'api.call',
        hour: '2026-11-27T03',
        units: 40,
        into: '2026-11-27T07',
        why: 'window',
      },
    ]);
    expect(isPartial(result)).to.equal(false);
    expect(ledger.completed).to.deep.equal(NOW);
    expect(ledger.holder).to.equal(undefined);
  });

  it('sends nothing again once accepted', async () => {
    await pushUsage(deps(), { since: '2026-11-27T00:00:00Z' });
    const again = await pushUsage(deps(), { since: '2026-11-27T00:00:00Z' });

    expect(again.records).to.deep.equal([]);
    expect(marketplace.commandCalls(BatchMeterUsageCommand)).to.have.length(1);
  });

  for (const point of ['after-pending', 'after-sent', 'after-call', 'between-batches'] as const) {
    it(`loses no unit and bills none twice when killed ${point} and run again`, async () => {
      // Five tenants, 25 records per call: two batches, so between-batches falls between them. Hours 8
      // and 10 stay open: units planned twice would find room there, and show as billed twice.
      tenants = ['acme', 'globex', 'hooli', 'initech', 'umbrella'].map((id) => tenant(id));
      counters = tenants.flatMap(({ tenantId }) =>
        [7, 9, 11].flatMap((h) =>
          ['api.call', 'doc.processed'].map((m) => counter(tenantId, m, h, h + tenantId.length)),
        ),
      );
      const total = counters.reduce((n, c) => n + c.quantity, 0);
      const crash = (at: CrashPoint) => {
        if (at === point) throw new Crash(point);
      };

      const crashed = await pushUsage(deps({ crash }), {
        since: '2026-11-27T00:00:00Z',
        concurrency: 1,
      }).catch((err: unknown) => err);
      expect(crashed).to.be.instanceOf(Crash);
      const sentBefore = marketplace
        .commandCalls(BatchMeterUsageCommand)
        .flatMap((c) => c.args[0].input.UsageRecords ?? []);
      const leftOver = [...ledger.items.values()].filter((r) => r.state !== 'ACCEPTED').length;

      const result = await pushUsage(deps(), { since: '2026-11-27T00:00:00Z', concurrency: 1 });

      expect(billedUnits()).to.equal(total);
      expect(ledger.byState()).to.deep.equal({ ACCEPTED: 30 });
      expect(result.totals.duplicate).to.equal(0);
      // The re-run plans nothing new: it sends what the ledger holds, as it holds it.
      expect(result.records).to.have.length(leftOver);
      expect(result.records.every((r) => r.resent)).to.equal(true);
      const sentAfter = marketplace
        .commandCalls(BatchMeterUsageCommand)
        .flatMap((c) => c.args[0].input.UsageRecords ?? []);
      for (const early of sentBefore) {
        const twins = sentAfter.filter(
          (r) =>
            r.CustomerAWSAccountId === early.CustomerAWSAccountId &&
            r.Dimension === early.Dimension &&
            r.Timestamp?.getTime() === early.Timestamp?.getTime(),
        );
        expect(new Set(twins.map((r) => r.Quantity))).to.deep.equal(new Set([early.Quantity]));
      }
    });
  }

  it('bills a counter that grew after its hour was pushed as a delta in the next open hour', async () => {
    counters = [counter('acme', 'api.call', 9, 10)];
    await pushUsage(deps(), { since: '2026-11-27T00:00:00Z' });
    counters = [counter('acme', 'api.call', 9, 13)];

    const result = await pushUsage(deps(), { since: '2026-11-27T00:00:00Z' });

    expect(result.records.map((r) => [r.hour, r.quantity, r.covers])).to.deep.equal([
      ['2026-11-27T10', 3, { 'api.call#2026-11-27T09': 3 }],
    ]);
    expect([...ledger.items.values()].map((r) => [r.hour, r.quantity, r.state])).to.deep.equal([
      ['2026-11-27T09', 10, 'ACCEPTED'],
      ['2026-11-27T10', 3, 'ACCEPTED'],
    ]);
    expect(billedUnits()).to.equal(13);
  });

  it('marks records AWS refuses REJECTED with the reason, and says the push is partial', async () => {
    marketplace.on(BatchMeterUsageCommand).callsFake((input: BatchMeterUsageCommandInput) => ({
      Results: (input.UsageRecords ?? []).map((r) => ({ UsageRecord: r, Status: 'CustomerNotSubscribed' })),
    }));

    const result = await pushUsage(deps(), { hour: '2026-11-27T10:00:00Z' });

    expect(result.totals).to.include({ records: 2, rejected: 2, accepted: 0 });
    expect(result.records[0].reason).to.match(/^CustomerNotSubscribed/);
    expect(isPartial(result)).to.equal(true);
  });

  it('leaves records SENT when AWS keeps throttling, to be sent again, and says the push is partial', async () => {
    marketplace.on(BatchMeterUsageCommand).rejects(awsError('ThrottlingException'));

    const result = await pushUsage(deps({ meter: { sleep: async () => undefined, maxAttempts: 3 } }), {
      hour: '2026-11-27T10:00:00Z',
    });

    expect(result.totals).to.include({ inFlight: 2, accepted: 0 });
    expect(result).to.include({ calls: 3, throttled: 3 });
    expect(ledger.byState()).to.deep.equal({ SENT: 2 });
    expect(isPartial(result)).to.equal(true);
  });

  it('prints exactly what it would send on a dry run, and writes and sends nothing', async () => {
    const result = await pushUsage(deps(), { since: '2026-11-27T09:00:00Z', dryRun: true });

    expect(ledger.log).to.deep.equal([]);
    expect(ledger.holder).to.equal(undefined);
    expect(marketplace.commandCalls(BatchMeterUsageCommand)).to.have.length(0);
    expect(result.requests).to.deep.equal([
      {
        UsageRecords: [
          {
            Timestamp: '2026-11-27T09:00:00.000Z',
            Dimension: 'api_calls',
            Quantity: 10,
            CustomerAWSAccountId: ACCOUNT,
            LicenseArn: LICENSE,
          },
          {
            Timestamp: '2026-11-27T10:00:00.000Z',
            Dimension: 'api_calls',
            Quantity: 20,
            CustomerAWSAccountId: ACCOUNT,
            LicenseArn: LICENSE,
          },
          {
            Timestamp: '2026-11-27T10:00:00.000Z',
            Dimension: 'documents',
            Quantity: 5,
            CustomerAWSAccountId: ACCOUNT,
            LicenseArn: LICENSE,
          },
        ],
      },
    ]);
    expect(result.records.every((r) => r.state === 'PENDING')).to.equal(true);
  });

  it('sends legacy buyers with the product code, in calls of their own', async () => {
    tenants = [
      tenant('acme'),
      tenant('oldco', {
        marketplaceAccountId: undefined,
        licenseArn: undefined,
        marketplaceCustomer: 'cust-9',
      }),
    ];
    counters = [counter('acme', 'api.call', 10, 1), counter('oldco', 'api.call', 10, 2)];

    await pushUsage(deps({ productCode: 'prod-1' }), { hour: '2026-11-27T10:00:00Z' });

    expect(marketplace.commandCalls(BatchMeterUsageCommand).map((c) => c.args[0].input)).to.deep.equal([
      {
        UsageRecords: [
          {
            Timestamp: new Date('2026-11-27T10:00:00Z'),
            Dimension: 'api_calls',
            Quantity: 1,
            CustomerAWSAccountId: ACCOUNT,
            LicenseArn: LICENSE,
          },
        ],
      },
      {
        UsageRecords: [
          {
            Timestamp: new Date('2026-11-27T10:00:00Z'),
            Dimension: 'api_calls',
            Quantity: 2,
            CustomerIdentifier: 'cust-9',
          },
        ],
        ProductCode: 'prod-1',
      },
    ]);
  });

  it('skips, and warns about, tenants it cannot bill: tier unmapped, legacy buyer without a product code', async () => {
    const warnings: string[] = [];
    const reporter: Reporter = {
      info() {},
      warn: (m) => void warnings.push(m),
      step: () => ({ done() {}, skipped() {}, failed() {} }),
    };
    tenants = [
      tenant('acme', { tier: 'legacy-tier' }),
      tenant('oldco', {
        marketplaceAccountId: undefined,
        licenseArn: undefined,
        marketplaceCustomer: 'cust-9',
      }),
      tenant('free', { marketplaceAccountId: undefined, licenseArn: undefined }),
    ];

    const result = await pushUsage(
      deps({
        reporter,
        tiers: async () => [
          ...DEFAULT_TIERS,
          { name: 'legacy-tier', isolation: 'pool', description: '', monthlyPrice: 0 },
        ],
      }),
      { hour: '2026-11-27T10:00:00Z' },
    );

    expect(result.tenants).to.deep.equal({
      subscribed: 0,
      unmapped: ['acme'],
      noProductCode: ['oldco'],
      sharedSubscription: [],
    });
    expect(warnings).to.have.length(2);
    expect(warnings[0]).to.include('no Marketplace dimension mapping (acme)');
    expect(marketplace.commandCalls(BatchMeterUsageCommand)).to.have.length(0);
  });

  it('bills no tenant sharing one buyer subscription with another (their records would collide)', async () => {
    tenants = [tenant('acme'), tenant('acme-eu', { marketplaceAccountId: ACCOUNT }), tenant('globex')];
    counters = tenants.map((t) => counter(t.tenantId, 'api.call', 10, 1));

    const result = await pushUsage(deps(), { hour: '2026-11-27T10:00:00Z' });

    expect(result.tenants.sharedSubscription).to.deep.equal(['acme', 'acme-eu']);
    expect(result.records.map((r) => r.tenantId)).to.deep.equal(['globex']);
    expect(isPartial(result)).to.equal(true);
  });

  it('refuses a tier whose mapping breaks the rules before anything is written', async () => {
    const broken = DEFAULT_TIERS.map((t) =>
      t.name === 'pro' ? { ...t, dimensions: [{ metric: 'nope.nope', dimension: 'x' }] } : t,
    );
    const err = await rejectionOf(
      pushUsage(deps({ tiers: async () => broken }), { hour: '2026-11-27T10:00:00Z' }),
    );
    expect(err.code).to.equal('INVALID_DIMENSION_MAPPING');
    expect(ledger.log).to.deep.equal([]);
  });

  it('reads the counters of a short period by key, and of a longer one by query per tenant and metric', async () => {
    const reads: string[] = [];
    const source = deps().counters;
    const spy: PushDependencies['counters'] = {
      getMany: async (keys) => {
        reads.push(`keys ${keys.map((k) => `${k.metric}@${k.hour.slice(11)}`).join(' ')}`);
        return source.getMany(keys);
      },
      list: async (period) => {
        reads.push(
          `query ${period.tenantId} ${period.from.slice(11)}-${period.to.slice(11)} ${period.metrics?.join(',')}`,
        );
        return source.list(period);
      },
    };

    await pushUsage(deps({ counters: spy }), { since: '2026-11-27T09:00:00Z', dryRun: true });
    await pushUsage(deps({ counters: spy }), { since: '2026-11-27T00:00:00Z', dryRun: true });

    expect(reads).to.deep.equal([
      'keys api.call@09 api.call@10 api.call@11 doc.processed@09 doc.processed@10 doc.processed@11 storage.gb@09 storage.gb@10 storage.gb@11',
      'query acme 00-11 api.call,doc.processed,storage.gb',
    ]);
  });

  describe('pushPeriod', () => {
    it('pushes one closed hour with --hour, and refuses the current one', () => {
      expect(pushPeriod({ hour: '2026-11-27T10:45:00Z' }, NOW)).to.deep.equal({
        from: '2026-11-27T10',
        to: '2026-11-27T10',
      });
      expect(thrownBy(() => pushPeriod({ hour: '2026-11-27T12:00:00Z' }, NOW)).code).to.equal(
        'HOUR_NOT_CLOSED',
      );
    });

    it('pushes every closed hour from --since, and refuses one with nothing closed', () => {
      expect(pushPeriod({ since: '2026-11-26T23:59:00Z' }, NOW)).to.deep.equal({
        from: '2026-11-26T23',
        to: '2026-11-27T11',
      });
      expect(thrownBy(() => pushPeriod({ since: '2026-11-27T12:10:00Z' }, NOW)).code).to.equal(
        'NOTHING_CLOSED',
      );
    });

    it('looks back 24 hours from the previous push by default, so a missed schedule loses nothing', () => {
      expect(pushPeriod({}, NOW)).to.deep.equal({ from: '2026-11-26T12', to: '2026-11-27T11' });
      expect(pushPeriod({}, NOW, new Date('2026-11-25T08:05:00Z'))).to.deep.equal({
        from: '2026-11-24T08',
        to: '2026-11-27T11',
      });
    });

    it('refuses both flags, and times that are not ISO 8601, naming the rule', () => {
      expect(
        thrownBy(() => pushPeriod({ hour: '2026-11-27T10:00:00Z', since: '2026-11-27T09:00:00Z' }, NOW)).code,
      ).to.equal('PERIOD_CONFLICT');
      for (const text of ['yesterday', '2026-11-27', '1764237600']) {
        const err = thrownBy(() => pushPeriod({ since: text }, NOW));
        expect(err.code).to.equal('INVALID_TIME');
        expect(err.message).to.include('expected an ISO 8601 time');
      }
    });
  });

  describe('crashSwitch', () => {
    it('kills at the n-th time the named point is reached, and only there', () => {
      const hits: number[] = [];
      let n = 0;
      const crash = crashSwitch('after-call:2', () => hits.push(n));
      for (const point of ['after-sent', 'after-call', 'after-sent', 'after-call', 'after-call'] as const) {
        n++;
        crash?.(point);
      }
      expect(hits).to.deep.equal([4]);
      expect(crashSwitch(undefined)).to.equal(undefined);
    });

    it('refuses an unknown point, so a typo cannot make a crash test pass', () => {
      expect(thrownBy(() => crashSwitch('after-cal')).code).to.equal('INVALID_CRASH_POINT');
      expect(thrownBy(() => crashSwitch('after-call:0')).code).to.equal('INVALID_CRASH_POINT');
    });
  });
});
