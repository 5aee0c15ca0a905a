import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import type { UsageCounter } from '../../../src/lib/metering/counters.js';
import type { LakeAggregation, LakeAggregationRequest } from '../../../src/lib/metering/lake-aggregate.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { reconcile, type DriftRow } from '../../../src/lib/metering/reconcile.js';
import { ReconcileMarks } from '../../../src/lib/metering/reconcile-marks.js';
import { ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const PERIOD = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-02T00:00:00Z') };
const NOW = new Date('2026-11-03T08:30:00Z');

function lake(cells: LakeAggregation['cells'], extra: Partial<LakeAggregation> = {}): LakeAggregation {
  return {
    cells,
    objects: 4,
    bytes: 1000,
    events: cells.reduce((n, c) => n + c.events, 0),
    duplicates: 1,
    malformed: 2,
    outsidePeriod: 0,
    foreignKeys: [],
    ...extra,
  };
}

function counter(tenantId: string, metric: string, hour: string, quantity: number): UsageCounter {
  return { tenantId, metric, hour, quantity, updatedAt: NOW.toISOString() };
}

/** Counters held in a map, with the conditional set the real ones have. */
class MemoryCounters {
  readonly values = new Map<string, UsageCounter>();
  constructor(initial: UsageCounter[]) {
    for (const c of initial) this.values.set(`${c.tenantId}|${c.metric}|${c.hour}`, c);
  }
  async list(): Promise<UsageCounter[]> {
    return [...this.values.values()];
  }
  async set(
    tenantId: string,
    metric: string,
    hour: string,
    quantity: number,
    options: { expectedQuantity?: number },
  ) {
    const key = `${tenantId}|${metric}|${hour}`;
    if ((this.values.get(key)?.quantity ?? 0) !== (options.expectedQuantity ?? 0)) return false;
    this.values.set(key, counter(tenantId, metric, hour, quantity));
    return true;
  }
}

class MemoryMarks {
  readonly recorded: { from: Date; to: Date; at: Date }[] = [];
  constructor(private readonly marks = new Map<number, number>()) {}
  async read() {
    return this.marks;
  }
  async record(from: Date, to: Date, at: Date) {
    this.recorded.push({ from, to, at });
    return 24;
  }
}

describe('reconcile', () => {
  const cells = [
    { tenantId: 'acme', metric: 'api.call', hour: '2026-11-01T10', quantity: 5, events: 3 },
    { tenantId: 'acme', metric: 'storage.gb', hour: '2026-11-01T10', quantity: 12, events: 2 },
  ];

  function deps(counters: MemoryCounters, marks = new MemoryMarks(), engineResult = lake(cells)) {
    const requests: LakeAggregationRequest[] = [];
    const audited: DriftRow[] = [];
    return {
      requests,
      audited,
      value: {
        engine: async (request: LakeAggregationRequest) => {
          requests.push(request);
          return engineResult;
        },
        engineName: 'stream',
        counters,
        marks,
        registry: new MetricRegistry(),
        audit: async (row: DriftRow) => {
          audited.push(row);
        },
        now: () => NOW,
      },
    };
  }

  it('asks the engine for the period with the marks, finds it clean, and marks the hours reconciled', async () => {
    const marks = new MemoryMarks(new Map([[Date.parse('2026-11-01T10:00:00Z'), NOW.getTime() - 1]]));
    const counters = new MemoryCounters([
      counter('acme', 'api.call', '2026-11-01T10', 5),
      counter('acme', 'storage.gb', '2026-11-01T10', 12),
    ]);
    const { value, requests } = deps(counters, marks);
    const result = await reconcile(value, PERIOD);
    expect(requests).to.have.length(1);
    expect(requests[0]).to.deep.include({ ...PERIOD, lateArrivalHours: 24 });
    expect(requests[0].reconciledAt).to.equal(await marks.read());
    expect(result).to.deep.include({
      drift: [],
      compared: 2,
      totals: { lake: 17, counters: 17 },
      hoursMarked: 24,
    });
    expect(marks.recorded).to.deep.equal([{ ...PERIOD, at: NOW }]);
  });

  it('reports drift both ways without writing, and marks nothing', async () => {
    const marks = new MemoryMarks();
    const counters = new MemoryCounters([
      counter('acme', 'api.call', '2026-11-01T10', 4),
      counter('globex', 'api.call', '2026-11-01T11', 9),
      counter('acme', 'storage.gb', '2026-11-01T10', 12),
    ]);
    const result = await reconcile(deps(counters, marks).value, PERIOD);
    expect(result.drift).to.deep.equal([
      { tenantId: 'acme', metric: 'api.call', hour: '2026-11-01T10', lake: 5, counter: 4, difference: 1 },
      { tenantId: 'globex', metric: 'api.call', hour: '2026-11-01T11', lake: 0, counter: 9, difference: -9 },
    ]);
    expect(counters.values.get('acme|api.call|2026-11-01T10')?.quantity).to.equal(4);
    expect(result.hoursMarked).to.equal(0);
    expect(marks.recorded).to.deep.equal([]);
  });

  it('with fix, sets each drifted counter to the lake value, audits it, then marks the hours', async () => {
    const marks = new MemoryMarks();
    const counters = new MemoryCounters([counter('acme', 'api.call', '2026-11-01T10', 4)]);
    const { value, audited } = deps(counters, marks);
    const result = await reconcile(value, { ...PERIOD, fix: true });
    expect(result.drift.map((r) => [r.metric, r.fixed])).to.deep.equal([
      ['api.call', true],
      ['storage.gb', true],
    ]);
    expect(audited).to.have.length(2);
    expect(counters.values.get('acme|storage.gb|2026-11-01T10')?.quantity).to.equal(12);
    expect(marks.recorded).to.have.length(1);
  });

  it('never marks hours from a run for one tenant', async () => {
    const marks = new MemoryMarks();
    const counters = new MemoryCounters([
      counter('acme', 'api.call', '2026-11-01T10', 5),
      counter('acme', 'storage.gb', '2026-11-01T10', 12),
    ]);
    const { value, requests } = deps(counters, marks);
    await reconcile(value, { ...PERIOD, tenantId: 'acme' });
    expect(requests[0].tenantId).to.equal('acme');
    expect(marks.recorded).to.deep.equal([]);
  });

  it('passes the usage that arrived after a reconcile through', async () => {
    const late = [{ tenantId: 'acme', metric: 'api.call', hour: '2026-11-01T10', quantity: 2, events: 1 }];
    const counters = new MemoryCounters([]);
    const result = await reconcile(
      deps(counters, new MemoryMarks(), lake([], { arrivedAfterReconcile: late })).value,
      PERIOD,
    );
    expect(result.arrivedAfterReconcile).to.deep.equal(late);
  });

  it('refuses an empty period before reading anything', async () => {
    const { value, requests } = deps(new MemoryCounters([]));
    const error = await rejectionOf(reconcile(value, { from: PERIOD.to, to: PERIOD.to }));
    expect(error.code).to.equal('INVALID_PERIOD');
    expect(requests).to.have.length(0);
  });
});

describe('ReconcileMarks', () => {
  beforeEach(() => ddb.reset());
  const marks = () => new ReconcileMarks(documentClient(), 'cp');

  it('reads the day items of the period into hour starts', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { PK: 'METERING', SK: 'RECONCILED#2026-11-01', hours: { '10': '2026-11-02T00:00:00.000Z' } },
        { PK: 'METERING', SK: 'RECONCILED#2026-11-02', hours: { '00': '2026-11-03T01:00:00.000Z' } },
      ],
    });
    const read = await marks().read(PERIOD.from, new Date('2026-11-03T00:00:00Z'));
    expect(ddb.commandCalls(QueryCommand)[0].args[0].input).to.deep.equal({
      TableName: 'cp',
      KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
      ExclusiveStartKey: undefined,
      ExpressionAttributeValues: {
        ':pk': 'METERING',
        ':from': 'RECONCILED#2026-11-01',
        ':to': 'RECONCILED#2026-11-02',
      },
    });
    expect([...read]).to.deep.equal([
      [Date.parse('2026-11-01T10:00:00Z'), Date.parse('2026-11-02T00:00:00Z')],
      [Date.parse('2026-11-02T00:00:00Z'), Date.parse('2026-11-03T01:00:00Z')],
    ]);
  });

  it('records the ended hours of the period, one day item at a time', async () => {
    ddb.on(UpdateCommand).resolves({});
    // The period runs to 02:30 on the 2nd; at 01:45 only the hours up to 00:59 have ended.
    const at = new Date('2026-11-02T01:45:00Z');
    const recorded = await marks().record(
      new Date('2026-11-01T22:00:00Z'),
      new Date('2026-11-02T02:30:00Z'),
      at,
    );
    expect(recorded).to.equal(3);
    const inputs = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(inputs).to.deep.equal([
      {
        TableName: 'cp',
        Key: { PK: 'METERING', SK: 'RECONCILED#2026-11-01' },
        UpdateExpression: 'SET #hours = if_not_exists(#hours, :empty)',
        ExpressionAttributeNames: { '#hours': 'hours' },
        ExpressionAttributeValues: { ':empty': {} },
      },
      {
        TableName: 'cp',
        Key: { PK: 'METERING', SK: 'RECONCILED#2026-11-01' },
        UpdateExpression: 'SET #hours.#h0 = :at, #hours.#h1 = :at',
        ExpressionAttributeNames: { '#hours': 'hours', '#h0': '22', '#h1': '23' },
        ExpressionAttributeValues: { ':at': at.toISOString() },
      },
      {
        TableName: 'cp',
        Key: { PK: 'METERING', SK: 'RECONCILED#2026-11-02' },
        UpdateExpression: 'SET #hours = if_not_exists(#hours, :empty)',
        ExpressionAttributeNames: { '#hours': 'hours' },
        ExpressionAttributeValues: { ':empty': {} },
      },
      {
        TableName: 'cp',
        Key: { PK: 'METERING', SK: 'RECONCILED#2026-11-02' },
        UpdateExpression: 'SET #hours.#h0 = :at',
        ExpressionAttributeNames: { '#hours': 'hours', '#h0': '00' },
        ExpressionAttributeValues: { ':at': at.toISOString() },
      },
    ]);
  });
});
