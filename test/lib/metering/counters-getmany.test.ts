import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { UsageCounters } from '../../../src/lib/metering/counters.js';
import { ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const TABLE = 'usage-table';

function key(i: number) {
  return { tenantId: `t${i}`, metric: 'api.call', hour: '2026-11-27T10' };
}

function item(i: number) {
  return {
    PK: `TENANT#t${i}`,
    SK: 'api.call#2026-11-27T10',
    tenantId: `t${i}`,
    metric: 'api.call',
    hour: '2026-11-27T10',
    quantity: i,
    aggregation: 'sum',
    updatedAt: '2026-11-27T11:00:00.000Z',
  };
}

describe('UsageCounters.getMany', () => {
  const sleeps: number[] = [];
  const counters = new UsageCounters(documentClient(), TABLE);
  beforeEach(() => {
    ddb.reset();
    sleeps.length = 0;
  });

  it('reads exact keys 100 per BatchGetItem, consistently, without the batch-id sets', async () => {
    const keys = Array.from({ length: 150 }, (_, i) => key(i));
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [item(3), item(1)] } })
      .resolvesOnce({ Responses: { [TABLE]: [item(120)] } });

    const found = await counters.getMany(keys);

    const inputs = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input);
    expect(inputs).to.have.length(2);
    expect(inputs[0]).to.deep.equal({
      RequestItems: {
        [TABLE]: {
          Keys: keys.slice(0, 100).map((k) => ({ PK: `TENANT#${k.tenantId}`, SK: `api.call#2026-11-27T10` })),
          ProjectionExpression: '#tenantId, #metric, #hour, #quantity, #aggregation, #updatedAt',
          ExpressionAttributeNames: {
            '#tenantId': 'tenantId',
            '#metric': 'metric',
            '#hour': 'hour',
            '#quantity': 'quantity',
            '#aggregation': 'aggregation',
            '#updatedAt': 'updatedAt',
          },
          ConsistentRead: true,
        },
      },
    });
    expect(inputs[1].RequestItems?.[TABLE].Keys).to.have.length(50);
    expect(found.map((c) => [c.tenantId, c.quantity])).to.deep.equal([
      ['t1', 1],
      ['t120', 120],
      ['t3', 3],
    ]);
  });

  it('asks again for the keys DynamoDB left unprocessed, with backoff, and gives up after 8 rounds', async () => {
    const unprocessed = { [TABLE]: { Keys: [{ PK: 'TENANT#t2', SK: 'api.call#2026-11-27T10' }] } };
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [item(1)] }, UnprocessedKeys: unprocessed })
      .resolvesOnce({ Responses: { [TABLE]: [item(2)] } });

    const found = await new UsageCounters(documentClient(), TABLE).getMany([key(1), key(2)], async (ms) => {
      sleeps.push(ms);
    });

    expect(found.map((c) => c.tenantId)).to.deep.equal(['t1', 't2']);
    expect(ddb.commandCalls(BatchGetCommand)[1].args[0].input.RequestItems?.[TABLE].Keys).to.deep.equal(
      unprocessed[TABLE].Keys,
    );
    expect(sleeps).to.deep.equal([100]);

    ddb.reset();
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] }, UnprocessedKeys: unprocessed });
    const err = await rejectionOf(
      new UsageCounters(documentClient(), TABLE).getMany([key(2)], async () => undefined),
    );
    expect(err.code).to.equal('COUNTER_READ_THROTTLED');
    expect(ddb.commandCalls(BatchGetCommand)).to.have.length(8);
  });
});
