import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { waitForTableActive } from '../../../src/lib/platform/dynamo.js';
import { startService, type RunningService } from '../../../src/lib/local/services.js';
import { localClients } from '../../../src/lib/local/stack.js';
import { applyBatch } from '../../../src/lib/metering/aggregator.js';
import { UsageCounters, type CounterDelta } from '../../../src/lib/metering/counters.js';
import type { Aggregation, UsageEvent } from '../../../src/lib/metering/types.js';

const TABLE = 'usage';
const HOUR = '2026-11-27T10';
const aggregationOf = (metric: string): Aggregation => (metric === 'storage.gb' ? 'max' : 'sum');

/**
 * Mocha may run this file in one process with unit specs (`npx mocha a.test.ts
 * b.integration.test.ts`), and test/lib/helpers/aws.ts then stubs
 * DynamoDBDocumentClient.prototype.send for the whole run. This client must reach dynalite
 * regardless: it gets the original send (sinon keeps it as the stub's wrappedMethod) as its own.
 */
function reachingTheStack(client: DynamoDBDocumentClient): DynamoDBDocumentClient {
  const send = client.send as unknown as { wrappedMethod?: unknown };
  if (typeof send.wrappedMethod === 'function') {
    Object.defineProperty(client, 'send', { value: send.wrappedMethod, configurable: true });
  }
  return client;
}

describe('UsageCounters on dynalite', function () {
  this.timeout(60_000);
  let directory: string;
  let dynalite: RunningService;
  let clients: ReturnType<typeof localClients>;
  let db: DynamoDBDocumentClient;
  let counters: UsageCounters;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-counters-'));
    dynalite = await startService(directory, 'dynamodb', 'us-east-1');
    clients = localClients({ dynamodb: dynalite.endpoint }, 'us-east-1');
    await clients.dynamodb().send(
      new CreateTableCommand({
        TableName: TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'PK', AttributeType: 'S' },
          { AttributeName: 'SK', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
      }),
    );
    // dynalite answers item writes to a table still CREATING with ResourceNotFoundException.
    await waitForTableActive(clients.dynamodb(), TABLE);
    db = reachingTheStack(clients.documents());
    counters = new UsageCounters(db, TABLE);
  });
  after(async () => {
    clients.destroy();
    await dynalite.stop();
    await rm(directory, { recursive: true, force: true });
  });

  /** The stored item as DynamoDB holds it, batch-id set included. */
  async function raw(
    tenantId: string,
    metric: string,
    hour = HOUR,
  ): Promise<Record<string, unknown> | undefined> {
    const { Item } = await db.send(
      new GetCommand({
        TableName: TABLE,
        Key: { PK: `TENANT#${tenantId}`, SK: `${metric}#${hour}` },
        ConsistentRead: true,
      }),
    );
    return Item;
  }

  const sum = (tenantId: string, quantity: number): CounterDelta => ({
    tenantId,
    metric: 'api.call',
    hour: HOUR,
    quantity,
    aggregation: 'sum',
  });
  const max = (tenantId: string, quantity: number): CounterDelta => ({
    tenantId,
    metric: 'storage.gb',
    hour: HOUR,
    quantity,
    aggregation: 'max',
  });

  it('counts a sum batch applied twice once, and adds up different batches', async () => {
    expect(await counters.apply(sum('sum-once', 5), 'batch-a')).to.equal('applied');
    expect(await counters.apply(sum('sum-once', 5), 'batch-a')).to.equal('duplicate');
    expect((await counters.get('sum-once', 'api.call', HOUR))?.quantity).to.equal(5);

    expect(await counters.apply(sum('sum-once', 7), 'batch-b')).to.equal('applied');
    expect(await counters.apply(sum('sum-once', 7), 'batch-b')).to.equal('duplicate');
    expect(await counters.apply(sum('sum-once', 5), 'batch-a')).to.equal('duplicate');

    const counter = await counters.get('sum-once', 'api.call', HOUR);
    expect(counter).to.include({
      tenantId: 'sum-once',
      metric: 'api.call',
      hour: HOUR,
      quantity: 12,
      aggregation: 'sum',
    });
    const item = await raw('sum-once', 'api.call');
    expect(item?.batches, 'stored as a string set').to.deep.equal(new Set(['batch-a', 'batch-b']));
  });

  it('keeps the maximum of a max counter and still detects a redelivered smaller batch', async () => {
    expect(await counters.apply(max('max-keep', 5), 'batch-a')).to.equal('applied');
    expect((await counters.get('max-keep', 'storage.gb', HOUR))?.quantity).to.equal(5);

    // Smaller than the counter: the quantity stays, the batch is recorded all the same.
    expect(await counters.apply(max('max-keep', 3), 'batch-b')).to.equal('applied');
    expect((await counters.get('max-keep', 'storage.gb', HOUR))?.quantity).to.equal(5);
    expect((await raw('max-keep', 'storage.gb'))?.batches).to.deep.equal(new Set(['batch-a', 'batch-b']));
    expect(await counters.apply(max('max-keep', 3), 'batch-b')).to.equal('duplicate');

    // A redelivered larger batch must not count as new either.
    expect(await counters.apply(max('max-keep', 5), 'batch-a')).to.equal('duplicate');
    // An equal value from a new batch is recorded without a change.
    expect(await counters.apply(max('max-keep', 5), 'batch-c')).to.equal('applied');

    expect(await counters.apply(max('max-keep', 8.25), 'batch-d')).to.equal('applied');
    expect(await counters.apply(max('max-keep', 8.25), 'batch-d')).to.equal('duplicate');
    const counter = await counters.get('max-keep', 'storage.gb', HOUR);
    expect(counter).to.include({ quantity: 8.25, aggregation: 'max' });
    expect((await raw('max-keep', 'storage.gb'))?.batches).to.deep.equal(
      new Set(['batch-a', 'batch-b', 'batch-c', 'batch-d']),
    );
  });

  it('sets a quantity only when the counter still holds the expected one, keeping its batches', async () => {
    await counters.apply(sum('set-fix', 10), 'batch-a');
    expect(await counters.set('set-fix', 'api.call', HOUR, 9, { expectedQuantity: 11 })).to.equal(false);
    expect((await counters.get('set-fix', 'api.call', HOUR))?.quantity).to.equal(10);
    expect(await counters.set('set-fix', 'api.call', HOUR, 9, { expectedQuantity: 10 })).to.equal(true);
    expect((await counters.get('set-fix', 'api.call', HOUR))?.quantity).to.equal(9);
    // The fix does not forget which batches were applied.
    expect(await counters.apply(sum('set-fix', 10), 'batch-a')).to.equal('duplicate');
    expect((await counters.get('set-fix', 'api.call', HOUR))?.quantity).to.equal(9);

    expect(await counters.set('set-new', 'api.call', HOUR, 4, { expectedQuantity: 3 })).to.equal(false);
    expect(await counters.get('set-new', 'api.call', HOUR)).to.equal(undefined);
    expect(await counters.set('set-new', 'api.call', HOUR, 4, { aggregation: 'sum' })).to.equal(true);
    expect(await counters.get('set-new', 'api.call', HOUR)).to.include({ quantity: 4, aggregation: 'sum' });
    expect(await counters.set('set-new', 'api.call', HOUR, 6)).to.equal(false);
    await counters.set('set-new', 'api.call', HOUR, 0, { expectedQuantity: 4 });
    expect(await counters.set('set-new', 'api.call', HOUR, 6, { expectedQuantity: 0 })).to.equal(true);
  });

  it('raises a max counter again after a fix lowered it', async () => {
    await counters.apply(max('max-fix', 5), 'batch-a');
    expect(await counters.set('max-fix', 'storage.gb', HOUR, 2, { expectedQuantity: 5 })).to.equal(true);
    expect(await counters.apply(max('max-fix', 3), 'batch-b')).to.equal('applied');
    expect((await counters.get('max-fix', 'storage.gb', HOUR))?.quantity).to.equal(3);
    expect(await counters.apply(max('max-fix', 5), 'batch-a')).to.equal('duplicate');
  });

  it('does not record a max batch without its value when a fix lowers the counter between the two writes', async () => {
    await counters.apply(max('max-race', 5), 'batch-a');
    // A client that runs reconcile --fix right after the first (raise) write of batch-b fails.
    let interleaved = false;
    const racing = Object.create(db) as DynamoDBDocumentClient;
    Object.defineProperty(racing, 'send', {
      value: async (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        try {
          return await db.send(command);
        } catch (err) {
          if (!interleaved && (err as Error).name === 'ConditionalCheckFailedException') {
            interleaved = true;
            expect(await counters.set('max-race', 'storage.gb', HOUR, 1, { expectedQuantity: 5 })).to.equal(
              true,
            );
          }
          throw err;
        }
      },
    });
    expect(await new UsageCounters(racing, TABLE).apply(max('max-race', 3), 'batch-b')).to.equal('applied');
    expect(interleaved).to.equal(true);
    expect((await counters.get('max-race', 'storage.gb', HOUR))?.quantity).to.equal(3);
    expect((await raw('max-race', 'storage.gb'))?.batches).to.deep.equal(new Set(['batch-a', 'batch-b']));
  });

  it('applies a whole batch once: a redelivery changes nothing and reports duplicates', async () => {
    const events: UsageEvent[] = [
      { eventId: 'e1', tenantId: 'pump', metric: 'api.call', quantity: 2, ts: '2026-11-27T10:00:00.000Z' },
      { eventId: 'e2', tenantId: 'pump', metric: 'api.call', quantity: 3, ts: '2026-11-27T10:59:59.999Z' },
      { eventId: 'e2', tenantId: 'pump', metric: 'api.call', quantity: 3, ts: '2026-11-27T10:59:59.999Z' },
      { eventId: 'e3', tenantId: 'pump', metric: 'api.call', quantity: 4, ts: '2026-11-27T11:00:00.000Z' },
      { eventId: 'e4', tenantId: 'pump', metric: 'storage.gb', quantity: 6, ts: '2026-11-27T10:10:00.000Z' },
      { eventId: 'e5', tenantId: 'pump', metric: 'storage.gb', quantity: 2, ts: '2026-11-27T10:20:00.000Z' },
    ];
    expect(await applyBatch(counters, 'pump-1', events, aggregationOf)).to.deep.equal({
      applied: 3,
      duplicates: 0,
      deltas: 3,
    });
    expect(await applyBatch(counters, 'pump-1', events, aggregationOf)).to.deep.equal({
      applied: 0,
      duplicates: 3,
      deltas: 3,
    });
    const listed = await counters.list({ from: '2026-11-27T00', to: '2026-11-27T23', tenantId: 'pump' });
    expect(listed.map((c) => [c.metric, c.hour, c.quantity])).to.deep.equal([
      ['api.call', '2026-11-27T10', 5],
      ['api.call', '2026-11-27T11', 4],
      ['storage.gb', '2026-11-27T10', 6],
    ]);
  });

  describe('list', () => {
    const tenants = ['list-a', 'list-b', 'list-c'];
    const metrics = ['api.call', 'storage.gb'];
    // 3 tenants x 2 metrics x 50 hours = 300 counters, from 2026-10-30T00 to 2026-11-01T01.
    const hours = Array.from({ length: 50 }, (_, i) =>
      new Date(Date.UTC(2026, 9, 30, i)).toISOString().slice(0, 13),
    );
    const quantityOf = (t: number, m: number, h: number) => t * 1000 + m * 100 + h;

    before(async () => {
      const deltas: CounterDelta[] = [];
      tenants.forEach((tenantId, t) =>
        metrics.forEach((metric, m) =>
          hours.forEach((hour, h) =>
            deltas.push({
              tenantId,
              metric,
              hour,
              quantity: quantityOf(t, m, h),
              aggregation: aggregationOf(metric),
            }),
          ),
        ),
      );
      for (let i = 0; i < deltas.length; i += 25) {
        await Promise.all(deltas.slice(i, i + 25).map((delta) => counters.apply(delta, 'seed')));
      }
    });

    function expected(from: string, to: string, only: { tenants?: string[]; metrics?: string[] } = {}) {
      const rows: [string, string, string, number][] = [];
      tenants.forEach((tenantId, t) => {
        if (only.tenants && !only.tenants.includes(tenantId)) return;
        metrics.forEach((metric, m) => {
          if (only.metrics && !only.metrics.includes(metric)) return;
          hours.forEach((hour, h) => {
            if (hour >= from && hour <= to) rows.push([tenantId, metric, hour, quantityOf(t, m, h)]);
          });
        });
      });
      return rows;
    }

    const rows = (listed: Awaited<ReturnType<UsageCounters['list']>>) =>
      listed
        .filter((c) => tenants.includes(c.tenantId))
        .map((c): [string, string, string, number] => [c.tenantId, c.metric, c.hour, c.quantity]);

    it('lists one tenant over a period, bounds included, across pages', async () => {
      const period = { from: '2026-10-31T00', to: '2026-10-31T23', tenantId: 'list-b' };
      const want = expected(period.from, period.to, { tenants: ['list-b'] });
      expect(want).to.have.length(48);
      expect(rows(await counters.list(period))).to.deep.equal(want);
      expect(rows(await counters.list({ ...period, pageSize: 7 }))).to.deep.equal(want);
    });

    it('lists chosen metrics of one tenant by exact sort-key range, across pages', async () => {
      const period = {
        from: '2026-10-30T05',
        to: '2026-11-01T01',
        tenantId: 'list-c',
        metrics: ['storage.gb'],
      };
      const want = expected(period.from, period.to, { tenants: ['list-c'], metrics: ['storage.gb'] });
      expect(want).to.have.length(45);
      expect(rows(await counters.list(period))).to.deep.equal(want);
      expect(rows(await counters.list({ ...period, pageSize: 4 }))).to.deep.equal(want);
      const both = await counters.list({ ...period, metrics, pageSize: 10 });
      expect(rows(both)).to.deep.equal(expected(period.from, period.to, { tenants: ['list-c'] }));
    });

    it('lists every tenant over a period with a paged scan', async () => {
      const period = { from: '2026-11-01T00', to: '2026-11-01T01' };
      const want = expected(period.from, period.to);
      expect(want).to.have.length(12);
      expect(rows(await counters.list(period))).to.deep.equal(want);
      expect(rows(await counters.list({ ...period, pageSize: 13 }))).to.deep.equal(want);

      const all = { from: '2026-10-30T00', to: '2026-11-01T01', pageSize: 50 };
      expect(rows(await counters.list(all))).to.deep.equal(expected(all.from, all.to));
      expect(rows(await counters.list({ ...all, metrics: ['api.call'] }))).to.deep.equal(
        expected(all.from, all.to, { metrics: ['api.call'] }),
      );
    });
  });
});
