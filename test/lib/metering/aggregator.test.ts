import { GetCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { aggregateBatch, applyBatch } from '../../../src/lib/metering/aggregator.js';
import { UsageCounters, type CounterDelta } from '../../../src/lib/metering/counters.js';
import type { Aggregation, UsageEvent } from '../../../src/lib/metering/types.js';
import { awsError, ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const TABLE = 'usage-table';
const NOW = '2026-11-27T10:30:00.000Z';
const BATCH = 'shard-0:49650000000000001';

const aggregationOf = (metric: string): Aggregation => (metric === 'storage.gb' ? 'max' : 'sum');

let sequence = 0;
function event(overrides: Partial<UsageEvent> = {}): UsageEvent {
  sequence += 1;
  return {
    eventId: `evt-${sequence}`,
    tenantId: 'acme',
    metric: 'api.call',
    quantity: 1,
    ts: '2026-11-27T10:15:00.000Z',
    ...overrides,
  };
}

const NAMES = {
  '#tenantId': 'tenantId',
  '#metric': 'metric',
  '#hour': 'hour',
  '#quantity': 'quantity',
  '#aggregation': 'aggregation',
  '#batches': 'batches',
  '#updatedAt': 'updatedAt',
};

function deltaValues(delta: CounterDelta, batchId = BATCH): Record<string, unknown> {
  return {
    ':tenantId': delta.tenantId,
    ':metric': delta.metric,
    ':hour': delta.hour,
    ':aggregation': delta.aggregation,
    ':updatedAt': NOW,
    ':quantity': delta.quantity,
    ':batch': new Set([batchId]),
    ':batchId': batchId,
  };
}

const sumDelta: CounterDelta = {
  tenantId: 'acme',
  metric: 'api.call',
  hour: '2026-11-27T10',
  quantity: 42,
  aggregation: 'sum',
};
const maxDelta: CounterDelta = {
  tenantId: 'acme',
  metric: 'storage.gb',
  hour: '2026-11-27T10',
  quantity: 7.5,
  aggregation: 'max',
};

const sumUpdate = {
  TableName: TABLE,
  Key: { PK: 'TENANT#acme', SK: 'api.call#2026-11-27T10' },
  UpdateExpression:
    'SET #tenantId = :tenantId, #metric = :metric, #hour = :hour, #aggregation = :aggregation, #updatedAt = :updatedAt ADD #quantity :quantity, #batches :batch',
  ConditionExpression: 'attribute_not_exists(#batches) OR NOT contains(#batches, :batchId)',
  ExpressionAttributeNames: NAMES,
  ExpressionAttributeValues: deltaValues(sumDelta),
};

const maxRaise = {
  TableName: TABLE,
  Key: { PK: 'TENANT#acme', SK: 'storage.gb#2026-11-27T10' },
  UpdateExpression:
    'SET #tenantId = :tenantId, #metric = :metric, #hour = :hour, #aggregation = :aggregation, #updatedAt = :updatedAt, #quantity = :quantity ADD #batches :batch',
  ConditionExpression:
    '(attribute_not_exists(#batches) OR NOT contains(#batches, :batchId)) AND (attribute_not_exists(#quantity) OR #quantity < :quantity)',
  ExpressionAttributeNames: NAMES,
  ExpressionAttributeValues: deltaValues(maxDelta),
};

const maxRecord = {
  TableName: TABLE,
  Key: { PK: 'TENANT#acme', SK: 'storage.gb#2026-11-27T10' },
  UpdateExpression: 'SET #updatedAt = :updatedAt ADD #batches :batch',
  ConditionExpression:
    '(attribute_not_exists(#batches) OR NOT contains(#batches, :batchId)) AND #quantity >= :quantity',
  ExpressionAttributeNames: { '#updatedAt': 'updatedAt', '#batches': 'batches', '#quantity': 'quantity' },
  ExpressionAttributeValues: {
    ':updatedAt': NOW,
    ':batch': new Set([BATCH]),
    ':batchId': BATCH,
    ':quantity': 7.5,
  },
};

const batchRead = {
  TableName: TABLE,
  Key: { PK: 'TENANT#acme', SK: 'storage.gb#2026-11-27T10' },
  ProjectionExpression: '#batches',
  ExpressionAttributeNames: { '#batches': 'batches' },
  ConsistentRead: true,
};

function updateInputs(): unknown[] {
  return ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
}

describe('usage counters and the aggregator', () => {
  let counters: UsageCounters;

  beforeEach(() => {
    ddb.reset();
    counters = new UsageCounters(documentClient(), TABLE, () => new Date(NOW));
  });

  describe('UsageCounters.apply', () => {
    it('adds a sum delta and records the batch in one conditional update', async () => {
      ddb.on(UpdateCommand).resolves({});
      expect(await counters.apply(sumDelta, BATCH)).to.equal('applied');
      expect(updateInputs()).to.deep.equal([sumUpdate]);
      const batch = (updateInputs()[0] as typeof sumUpdate).ExpressionAttributeValues[':batch'];
      expect(batch, 'the batch id goes as a string set, which ADD merges').to.be.instanceOf(Set);
    });

    it('reports a batch the counter has already seen as a duplicate, not an error', async () => {
      ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));
      expect(await counters.apply(sumDelta, BATCH)).to.equal('duplicate');
      expect(updateInputs()).to.deep.equal([sumUpdate]);
    });

    it('raises a max counter with a single write when the new value is larger', async () => {
      ddb.on(UpdateCommand).resolves({});
      expect(await counters.apply(maxDelta, BATCH)).to.equal('applied');
      expect(updateInputs()).to.deep.equal([maxRaise]);
    });

    it('records the batch without lowering a max counter that already holds more', async () => {
      ddb.on(UpdateCommand).rejectsOnce(awsError('ConditionalCheckFailedException')).resolves({});
      expect(await counters.apply(maxDelta, BATCH)).to.equal('applied');
      expect(updateInputs()).to.deep.equal([maxRaise, maxRecord]);
      expect(ddb.commandCalls(GetCommand)).to.have.length(0);
    });

    it('reports a redelivered max batch as a duplicate after a consistent read finds it recorded', async () => {
      ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));
      ddb.on(GetCommand).resolves({ Item: { batches: new Set(['other', BATCH]) } });
      expect(await counters.apply(maxDelta, BATCH)).to.equal('duplicate');
      expect(updateInputs()).to.deep.equal([maxRaise, maxRecord]);
      expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).to.deep.equal([batchRead]);
    });

    it('starts a max delta over when the counter dropped below it between the two writes', async () => {
      ddb
        .on(UpdateCommand)
        .rejectsOnce(awsError('ConditionalCheckFailedException'))
        .rejectsOnce(awsError('ConditionalCheckFailedException'))
        .resolves({});
      ddb.on(GetCommand).resolves({ Item: { batches: new Set(['other']) } });
      expect(await counters.apply(maxDelta, BATCH)).to.equal('applied');
      expect(updateInputs()).to.deep.equal([maxRaise, maxRecord, maxRaise]);
    });

    it('gives up with a conflict when a max counter keeps moving', async () => {
      ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));
      ddb.on(GetCommand).resolves({ Item: { quantity: 1 } });
      const err = await rejectionOf(counters.apply(maxDelta, BATCH));
      expect(err.code).to.equal('COUNTER_CONTENTION');
      expect(err.exitCode).to.equal(4);
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(6);
    });

    it('passes other DynamoDB errors through', async () => {
      ddb.on(UpdateCommand).rejects(awsError('ProvisionedThroughputExceededException'));
      let caught: unknown;
      try {
        await counters.apply(sumDelta, BATCH);
      } catch (err) {
        caught = err;
      }
      expect((caught as Error).name).to.equal('ProvisionedThroughputExceededException');
    });

    it('refuses a batch id longer than 64 characters before writing anything', async () => {
      const err = await rejectionOf(counters.apply(sumDelta, 'b'.repeat(65)));
      expect(err.code).to.equal('INVALID_BATCH_ID');
      expect(err.message).to.contain('65 characters');
      expect(ddb.calls()).to.have.length(0);
      ddb.on(UpdateCommand).resolves({});
      expect(await counters.apply(sumDelta, 'b'.repeat(64))).to.equal('applied');
    });

    it('refuses a malformed hour or quantity before writing anything', async () => {
      expect(
        (await rejectionOf(counters.apply({ ...sumDelta, hour: '2026-11-27 10' }, BATCH))).code,
      ).to.equal('INVALID_HOUR');
      expect((await rejectionOf(counters.apply({ ...sumDelta, quantity: Number.NaN }, BATCH))).code).to.equal(
        'INVALID_QUANTITY',
      );
      expect(ddb.calls()).to.have.length(0);
    });
  });

  describe('UsageCounters.set', () => {
    it('overwrites only the quantity the caller read, and says when it did not', async () => {
      ddb.on(UpdateCommand).rejectsOnce(awsError('ConditionalCheckFailedException')).resolves({});
      expect(await counters.set('acme', 'api.call', '2026-11-27T10', 40, { expectedQuantity: 42 })).to.equal(
        false,
      );
      expect(await counters.set('acme', 'api.call', '2026-11-27T10', 40, { expectedQuantity: 42 })).to.equal(
        true,
      );
      expect(updateInputs()[0]).to.deep.equal({
        TableName: TABLE,
        Key: { PK: 'TENANT#acme', SK: 'api.call#2026-11-27T10' },
        UpdateExpression:
          'SET #tenantId = :tenantId, #metric = :metric, #hour = :hour, #quantity = :quantity, #updatedAt = :updatedAt',
        ConditionExpression: '#quantity = :expected',
        ExpressionAttributeNames: {
          '#tenantId': 'tenantId',
          '#metric': 'metric',
          '#hour': 'hour',
          '#quantity': 'quantity',
          '#updatedAt': 'updatedAt',
        },
        ExpressionAttributeValues: {
          ':tenantId': 'acme',
          ':metric': 'api.call',
          ':hour': '2026-11-27T10',
          ':quantity': 40,
          ':updatedAt': NOW,
          ':expected': 42,
        },
      });
    });

    it('creates a missing counter when nothing (or 0) was expected', async () => {
      ddb.on(UpdateCommand).resolves({});
      await counters.set('acme', 'storage.gb', '2026-11-27T10', 3, { aggregation: 'max' });
      const input = updateInputs()[0] as Record<string, unknown>;
      expect(input.ConditionExpression).to.equal('attribute_not_exists(#quantity) OR #quantity = :expected');
      expect(input.UpdateExpression).to.equal(
        'SET #tenantId = :tenantId, #metric = :metric, #hour = :hour, #quantity = :quantity, #updatedAt = :updatedAt, #aggregation = :aggregation',
      );
      expect(input.ExpressionAttributeValues).to.include({ ':expected': 0, ':aggregation': 'max' });
    });
  });

  describe('UsageCounters.list', () => {
    const item = (tenantId: string, metric: string, hour: string, quantity: number) => ({
      tenantId,
      metric,
      hour,
      quantity,
      aggregation: 'sum',
      updatedAt: NOW,
    });

    it("queries one tenant's metrics by exact sort-key range, following pages", async () => {
      ddb
        .on(QueryCommand)
        .resolvesOnce({
          Items: [item('acme', 'api.call', '2026-11-01T00', 1)],
          LastEvaluatedKey: { PK: 'x', SK: 'y' },
        })
        .resolvesOnce({ Items: [item('acme', 'api.call', '2026-11-30T23', 2)] });
      const listed = await counters.list({
        from: '2026-11-01T00',
        to: '2026-11-30T23',
        tenantId: 'acme',
        metrics: ['api.call'],
      });
      expect(listed.map((c) => c.quantity)).to.deep.equal([1, 2]);
      const inputs = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
      expect(inputs[0]).to.include({
        TableName: TABLE,
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
        ConsistentRead: true,
      });
      expect(inputs[0].ExpressionAttributeValues).to.deep.equal({
        ':pk': 'TENANT#acme',
        ':from': 'api.call#2026-11-01T00',
        ':to': 'api.call#2026-11-30T23',
      });
      expect(inputs[1].ExclusiveStartKey).to.deep.equal({ PK: 'x', SK: 'y' });
    });

    it('scans every tenant with a filter on the hour, following pages', async () => {
      ddb
        .on(ScanCommand)
        .resolvesOnce({
          Items: [item('globex', 'api.call', '2026-11-02T00', 5)],
          LastEvaluatedKey: { PK: 'x', SK: 'y' },
        })
        .resolvesOnce({ Items: [item('acme', 'api.call', '2026-11-02T00', 3)] });
      const listed = await counters.list({ from: '2026-11-01T00', to: '2026-11-30T23', pageSize: 1 });
      expect(listed.map((c) => c.tenantId)).to.deep.equal(['acme', 'globex']);
      const inputs = ddb.commandCalls(ScanCommand).map((call) => call.args[0].input);
      expect(inputs[0]).to.include({
        FilterExpression: 'begins_with(PK, :tenantPrefix) AND #hour BETWEEN :from AND :to',
        Limit: 1,
      });
      expect(inputs[1].ExclusiveStartKey).to.deep.equal({ PK: 'x', SK: 'y' });
    });
  });

  describe('aggregateBatch', () => {
    it('coalesces per tenant, metric and hour', () => {
      const deltas = aggregateBatch(
        [
          event({ quantity: 2 }),
          event({ quantity: 3, ts: '2026-11-27T10:59:59.999Z' }),
          event({ quantity: 5, ts: '2026-11-27T11:00:00.000Z' }),
          event({ tenantId: 'globex', quantity: 7 }),
          event({ metric: 'storage.gb', quantity: 4 }),
        ],
        aggregationOf,
      );
      expect(deltas).to.deep.equal([
        { tenantId: 'acme', metric: 'api.call', hour: '2026-11-27T10', quantity: 5, aggregation: 'sum' },
        { tenantId: 'acme', metric: 'api.call', hour: '2026-11-27T11', quantity: 5, aggregation: 'sum' },
        { tenantId: 'globex', metric: 'api.call', hour: '2026-11-27T10', quantity: 7, aggregation: 'sum' },
        { tenantId: 'acme', metric: 'storage.gb', hour: '2026-11-27T10', quantity: 4, aggregation: 'max' },
      ]);
    });

    it('puts the last millisecond of a day and the first of the next in different UTC hours', () => {
      const deltas = aggregateBatch(
        [
          event({ ts: '2026-12-31T23:59:59.999Z' }),
          event({ ts: '2027-01-01T00:00:00.000Z' }),
          event({ ts: '2027-01-01T00:00:00Z' }),
        ],
        aggregationOf,
      );
      expect(deltas.map((d) => [d.hour, d.quantity])).to.deep.equal([
        ['2026-12-31T23', 1],
        ['2027-01-01T00', 2],
      ]);
    });

    it('counts an eventId repeated within the batch once', () => {
      const deltas = aggregateBatch(
        [
          event({ eventId: 'dup', quantity: 10 }),
          event({ eventId: 'dup', quantity: 10 }),
          event({ eventId: 'other', quantity: 1 }),
          event({ eventId: 'dup', quantity: 10 }),
        ],
        aggregationOf,
      );
      expect(deltas).to.have.length(1);
      expect(deltas[0].quantity).to.equal(11);
    });

    it('keeps the largest sample of a max metric rather than adding them', () => {
      const deltas = aggregateBatch(
        [
          event({ metric: 'storage.gb', quantity: 3 }),
          event({ metric: 'storage.gb', quantity: 9.5 }),
          event({ metric: 'storage.gb', quantity: 4 }),
        ],
        aggregationOf,
      );
      expect(deltas).to.deep.equal([
        { tenantId: 'acme', metric: 'storage.gb', hour: '2026-11-27T10', quantity: 9.5, aggregation: 'max' },
      ]);
    });
  });

  describe('applyBatch', () => {
    it('applies one conditional update per coalesced counter, with the batch id', async () => {
      ddb.on(UpdateCommand).resolves({});
      const result = await applyBatch(
        counters,
        BATCH,
        [event({ quantity: 20 }), event({ quantity: 22 }), event({ tenantId: 'globex' })],
        aggregationOf,
      );
      expect(result).to.deep.equal({ applied: 2, duplicates: 0, deltas: 2 });
      expect(updateInputs()[0]).to.deep.equal(sumUpdate);
    });

    it('reports a redelivered batch as duplicates, not an error', async () => {
      ddb
        .on(UpdateCommand, { Key: { PK: 'TENANT#acme', SK: 'api.call#2026-11-27T10' } })
        .rejects(awsError('ConditionalCheckFailedException'))
        .on(UpdateCommand, { Key: { PK: 'TENANT#globex', SK: 'api.call#2026-11-27T10' } })
        .resolves({});
      const result = await applyBatch(
        counters,
        BATCH,
        [event(), event({ tenantId: 'globex' })],
        aggregationOf,
      );
      expect(result).to.deep.equal({ applied: 1, duplicates: 1, deltas: 2 });
    });

    it('keeps at most 16 writes in flight', async () => {
      let inFlight = 0;
      let peak = 0;
      const slow = {
        apply: async (): Promise<'applied'> => {
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 2));
          inFlight -= 1;
          return 'applied';
        },
      };
      const events = Array.from({ length: 100 }, (_, i) => event({ tenantId: `tenant-${i}` }));
      const result = await applyBatch(slow, BATCH, events, aggregationOf);
      expect(result).to.deep.equal({ applied: 100, duplicates: 0, deltas: 100 });
      expect(peak).to.equal(16);
    });

    it('fails the batch on a write error, so the caller retries it under the same id', async () => {
      ddb.on(UpdateCommand).rejects(awsError('ThrottlingException'));
      const events = Array.from({ length: 40 }, (_, i) => event({ tenantId: `tenant-${i}` }));
      let caught: unknown;
      try {
        await applyBatch(counters, BATCH, events, aggregationOf);
      } catch (err) {
        caught = err;
      }
      expect((caught as Error).name).to.equal('ThrottlingException');
      expect(ddb.commandCalls(UpdateCommand).length, 'no new writes after the first failure').to.be.at.most(
        16,
      );
    });

    it('refuses an over-long batch id before any write', async () => {
      const err = await rejectionOf(applyBatch(counters, 'x'.repeat(65), [event()], aggregationOf));
      expect(err.code).to.equal('INVALID_BATCH_ID');
      expect(ddb.calls()).to.have.length(0);
    });
  });
});
