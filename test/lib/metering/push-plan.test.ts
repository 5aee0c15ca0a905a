import { expect } from 'chai';

import type { LedgerRecord, RecordState } from '../../../src/lib/metering/ledger.js';
import {
  planPush,
  windowHours,
  type CounterCell,
  type PlanInput,
  type Subscriber,
} from '../../../src/lib/metering/push-plan.js';
import { DEFAULT_DIMENSIONS } from '../../../src/lib/tenants/tiers.js';

const NOW = new Date('2026-11-27T12:30:00.000Z');
const CUSTOMER = {
  customerAwsAccountId: '111122223333',
  licenseArn: 'arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef',
};
const acme: Subscriber = { tenantId: 'acme', customer: CUSTOMER, mapping: DEFAULT_DIMENSIONS };

function cell(metric: string, hour: number, quantity: number): CounterCell {
  return { metric, hour: `2026-11-27T${String(hour).padStart(2, '0')}`, quantity };
}

function existing(
  dimension: string,
  hour: number,
  state: RecordState,
  covers: Record<string, number>,
): LedgerRecord {
  const key = `2026-11-27T${String(hour).padStart(2, '0')}`;
  return {
    tenantId: 'acme',
    dimension,
    hour: key,
    timestamp: `${key}:00:00.000Z`,
    quantity: Object.values(covers).reduce((a, b) => a + b, 0),
    customer: CUSTOMER,
    covers,
    state,
    runId: 'earlier',
    attempts: 1,
    createdAt: '2026-11-27T10:05:00.000Z',
    updatedAt: '2026-11-27T10:05:00.000Z',
  };
}

function plan(counters: CounterCell[], ledger: LedgerRecord[] = [], overrides: Partial<PlanInput> = {}) {
  return planPush({
    now: NOW,
    from: '2026-11-26T12',
    to: '2026-11-27T11',
    subscribers: [acme],
    counters: new Map([['acme', counters]]),
    ledger: new Map([['acme', ledger]]),
    runId: 'run-1',
    ...overrides,
  });
}

/** [dimension, hour, quantity, covers] of the new records. */
function summary(records: readonly LedgerRecord[]) {
  return records.map((r) => [r.dimension, r.hour.slice(11), r.quantity, r.covers]);
}

describe('planPush', () => {
  describe('windowHours: the closed hours inside AWS 6-hour window', () => {
    it('leaves room for the push to finish: 5 hours at half past, 4 in the last 10 minutes', () => {
      expect(windowHours(NOW, 10 * 60_000)).to.deep.equal([
        '2026-11-27T07',
        '2026-11-27T08',
        '2026-11-27T09',
        '2026-11-27T10',
        '2026-11-27T11',
      ]);
      expect(windowHours(new Date('2026-11-27T12:55:00Z'), 10 * 60_000)).to.deep.equal([
        '2026-11-27T08',
        '2026-11-27T09',
        '2026-11-27T10',
        '2026-11-27T11',
      ]);
    });

    it('never includes the current hour, nor an hour whose start is 6 hours old', () => {
      const hours = windowHours(new Date('2026-11-27T12:00:00Z'), 0);
      expect(hours[0]).to.equal('2026-11-27T06');
      expect(hours.at(-1)).to.equal('2026-11-27T11');
      expect(windowHours(new Date('2026-11-27T12:00:00.001Z'), 0)[0]).to.equal('2026-11-27T07');
    });
  });

  it('makes one record per dimension and closed hour, stamped with the hour start, through the mapping', () => {
    const result = plan([cell('api.call', 10, 120), cell('api.call', 11, 80), cell('storage.gb', 11, 12.25)]);

    expect(result.records.map((r) => [r.dimension, r.timestamp, r.quantity, r.state])).to.deep.equal([
      ['api_calls', '2026-11-27T10:00:00.000Z', 120, 'PENDING'],
      ['api_calls', '2026-11-27T11:00:00.000Z', 80, 'PENDING'],
      ['storage_gb_hours', '2026-11-27T11:00:00.000Z', 13, 'PENDING'],
    ]);
    expect(result.records[0]).to.deep.include({
      tenantId: 'acme',
      hour: '2026-11-27T10',
      customer: CUSTOMER,
      covers: { 'api.call#2026-11-27T10': 120 },
      runId: 'run-1',
      attempts: 0,
      createdAt: NOW.toISOString(),
    });
    expect(result.carried).to.deep.equal([]);
    expect(result.window).to.deep.equal({ from: '2026-11-27T07', to: '2026-11-27T11' });
  });

  it('is deterministic: the same counters and ledger give the same records', () => {
    const counters = [cell('api.call', 3, 5), cell('doc.processed', 9, 2), cell('api.call', 10, 1)];
    expect(plan(counters).records).to.deep.equal(plan([...counters].reverse()).records);
  });

  it('bills only mapped metrics, and nothing for a tier mapped to no dimension', () => {
    const only = { ...acme, mapping: [{ metric: 'doc.processed', dimension: 'docs' }] };
    const counters = [cell('api.call', 10, 5), cell('doc.processed', 10, 3)];
    expect(summary(plan(counters, [], { subscribers: [only] }).records)).to.deep.equal([
      ['docs', '10', 3, { 'doc.processed#2026-11-27T10': 3 }],
    ]);
    expect(plan(counters, [], { subscribers: [{ ...acme, mapping: [] }] }).records).to.deep.equal([]);
  });

  it('carries usage older than the 6-hour window into the first open hour, and reports it', () => {
    const result = plan([cell('api.call', 2, 4), cell('api.call', 6, 6), cell('api.call', 8, 10)]);

    expect(summary(result.records)).to.deep.equal([
      ['api_calls', '07', 10, { 'api.call#2026-11-27T02': 4, 'api.call#2026-11-27T06': 6 }],
      ['api_calls', '08', 10, { 'api.call#2026-11-27T08': 10 }],
    ]);
    expect(result.carried).to.deep.equal([
      {
        tenantId: 'acme',
        metric: 'api.call',
        hour: '2026-11-27T02',
        units: 4,
        into: '2026-11-27T07',
        why: 'window',
      },
      {
        tenantId: 'acme',
        metric: 'api.call',
        hour: '2026-11-27T06',
        units: 6,
        into: '2026-11-27T07',
        why: 'window',
      },
    ]);
  });

  it('bills a counter that grew after its hour was pushed as a delta in the next open hour, never resending the hour', () => {
    const ledger = [
      existing('api_calls', 9, 'ACCEPTED', { 'api.call#2026-11-27T09': 10 }),
      existing('api_calls', 10, 'ACCEPTED', { 'api.call#2026-11-27T10': 7 }),
    ];
    const result = plan([cell('api.call', 9, 13), cell('api.call', 10, 7), cell('api.call', 11, 1)], ledger);

    expect(summary(result.records)).to.deep.equal([
      ['api_calls', '11', 4, { 'api.call#2026-11-27T09': 3, 'api.call#2026-11-27T11': 1 }],
    ]);
    expect(result.carried).to.deep.equal([
      {
        tenantId: 'acme',
        metric: 'api.call',
        hour: '2026-11-27T09',
        units: 3,
        into: '2026-11-27T11',
        why: 'late',
      },
    ]);
  });

  it('counts what a record carried in, wherever it sits, so a delta is billed once', () => {
    const ledger = [
      existing('api_calls', 9, 'ACCEPTED', { 'api.call#2026-11-27T09': 10 }),
      existing('api_calls', 10, 'ACCEPTED', { 'api.call#2026-11-27T09': 3 }),
    ];
    expect(plan([cell('api.call', 9, 13)], ledger).records).to.deep.equal([]);
  });

  it('defers owed units when every hour of the window already has a record', () => {
    const ledger = [7, 8, 9, 10, 11].map((h) => existing('api_calls', h, 'ACCEPTED', {}));
    const result = plan([cell('api.call', 9, 2)], ledger);

    expect(result.records).to.deep.equal([]);
    expect(result.deferred).to.deep.equal([
      { tenantId: 'acme', metric: 'api.call', hour: '2026-11-27T09', units: 2 },
    ]);
  });

  it('sends records left PENDING or SENT again as they are, and plans nothing twice', () => {
    const pending = existing('api_calls', 10, 'PENDING', { 'api.call#2026-11-27T10': 5 });
    const sent = existing('documents', 10, 'SENT', { 'doc.processed#2026-11-27T10': 2 });
    const result = plan([cell('api.call', 10, 5), cell('doc.processed', 10, 2)], [pending, sent]);

    expect(result.resend).to.deep.equal([sent, pending].sort((a, b) => (a.dimension < b.dimension ? -1 : 1)));
    expect(result.records).to.deep.equal([]);
  });

  it('owes REJECTED units again, in a later open hour (the refused hour keeps its record)', () => {
    const rejected = existing('api_calls', 9, 'REJECTED', { 'api.call#2026-11-27T09': 5 });
    const result = plan([cell('api.call', 9, 5)], [rejected]);

    expect(summary(result.records)).to.deep.equal([['api_calls', '10', 5, { 'api.call#2026-11-27T09': 5 }]]);
  });

  it('takes DUPLICATE as settled: AWS holds a record for that hour', () => {
    const duplicate = existing('api_calls', 9, 'DUPLICATE', { 'api.call#2026-11-27T09': 5 });
    expect(plan([cell('api.call', 9, 5)], [duplicate]).records).to.deep.equal([]);
  });

  it('replans a PENDING record that fell out of the window unsent, and reports a SENT one as unresolved', () => {
    const pending = existing('api_calls', 6, 'PENDING', { 'api.call#2026-11-27T06': 5 });
    const sent = existing('documents', 6, 'SENT', { 'doc.processed#2026-11-27T06': 2 });
    const result = plan([cell('api.call', 6, 5), cell('doc.processed', 6, 2)], [pending, sent]);

    expect(result.expired).to.deep.equal([pending]);
    expect(result.unresolved).to.deep.equal([sent]);
    // The unresolved record counts as billed: sending its units again could bill them twice.
    expect(summary(result.records)).to.deep.equal([['api_calls', '07', 5, { 'api.call#2026-11-27T06': 5 }]]);
  });

  it('reports a counter lowered below what was billed (reconcile --fix) and sends nothing negative', () => {
    const ledger = [existing('api_calls', 9, 'ACCEPTED', { 'api.call#2026-11-27T09': 10 })];
    const result = plan([cell('api.call', 9, 8)], ledger);

    expect(result.records).to.deep.equal([]);
    expect(result.overBilled).to.deep.equal([
      { tenantId: 'acme', metric: 'api.call', hour: '2026-11-27T09', counted: 8, billed: 10 },
    ]);
  });

  it('splits a quantity above the 2147483647 a record may hold over open hours', () => {
    const result = plan([cell('api.call', 10, 2_147_483_647 + 5)]);
    expect(summary(result.records)).to.deep.equal([
      ['api_calls', '10', 2_147_483_647, { 'api.call#2026-11-27T10': 2_147_483_647 }],
      ['api_calls', '11', 5, { 'api.call#2026-11-27T10': 5 }],
    ]);
  });

  it('orders records by hour, then tenant, then dimension, across tenants', () => {
    const globex: Subscriber = { ...acme, tenantId: 'globex' };
    const result = planPush({
      now: NOW,
      from: '2026-11-27T00',
      to: '2026-11-27T11',
      subscribers: [globex, acme],
      counters: new Map([
        ['acme', [cell('api.call', 11, 1), cell('doc.processed', 10, 1)]],
        ['globex', [cell('api.call', 10, 1)]],
      ]),
      ledger: new Map(),
      runId: 'r',
    });
    expect(result.records.map((r) => `${r.hour.slice(11)} ${r.tenantId} ${r.dimension}`)).to.deep.equal([
      '10 acme documents',
      '10 globex api_calls',
      '11 acme api_calls',
    ]);
  });
});
