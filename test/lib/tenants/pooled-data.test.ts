import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { deletePooledItems } from '../../../src/lib/tenants/pooled-data.js';
import { ddb, documentClient } from '../helpers/aws.js';

const TABLE = 'dev-pooled';

/** Items of tenant acme: the plain partition and a sharded one, with a non-key attribute to leave behind. */
function items(count: number, from = 0): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    PK: (from + i) % 2 === 0 ? 'TENANT#acme' : 'TENANT#acme#3',
    SK: `ORDER#${String(from + i).padStart(3, '0')}`,
    total: 42,
  }));
}

function deletesOf(batch: Record<string, unknown>[]): { DeleteRequest: { Key: Record<string, unknown> } }[] {
  return batch.map((item) => ({ DeleteRequest: { Key: { PK: item.PK, SK: item.SK } } }));
}

const scanInput = {
  TableName: TABLE,
  FilterExpression: 'PK = :pk OR begins_with(PK, :shard)',
  ExpressionAttributeValues: { ':pk': 'TENANT#acme', ':shard': 'TENANT#acme#' },
  ProjectionExpression: 'PK, SK',
  ConsistentRead: true,
};

describe('deletePooledItems', () => {
  const batchWrites = () => ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input);

  beforeEach(() => {
    ddb.reset();
  });

  it('scans for the tenant partition and its shards only, never the bare prefix', async () => {
    ddb.on(ScanCommand).resolves({ Items: [] });

    expect(await deletePooledItems(documentClient(), TABLE, 'acme')).to.deep.equal({ deleted: 0 });
    expect(ddb.commandCalls(ScanCommand).map((c) => c.args[0].input)).to.deep.equal([
      { ...scanInput, ExclusiveStartKey: undefined },
    ]);
    expect(batchWrites()).to.have.length(0);
  });

  it('follows LastEvaluatedKey across pages, including a page the filter emptied, deleting keys in batches of 25', async () => {
    const first = items(30);
    const third = items(3, 30);
    const firstKey = { PK: 'TENANT#acme#3', SK: 'ORDER#029' };
    const secondKey = { PK: 'TENANT#other', SK: 'ORDER#999' };
    ddb
      .on(ScanCommand)
      .resolvesOnce({ Items: first, LastEvaluatedKey: firstKey })
      .resolvesOnce({ Items: [], LastEvaluatedKey: secondKey })
      .resolvesOnce({ Items: third });
    ddb.on(BatchWriteCommand).resolves({});

    expect(await deletePooledItems(documentClient(), TABLE, 'acme')).to.deep.equal({ deleted: 33 });
    expect(ddb.commandCalls(ScanCommand).map((c) => c.args[0].input)).to.deep.equal([
      { ...scanInput, ExclusiveStartKey: undefined },
      { ...scanInput, ExclusiveStartKey: firstKey },
      { ...scanInput, ExclusiveStartKey: secondKey },
    ]);
    expect(batchWrites()).to.deep.equal([
      { RequestItems: { [TABLE]: deletesOf(first.slice(0, 25)) } },
      { RequestItems: { [TABLE]: deletesOf(first.slice(25)) } },
      { RequestItems: { [TABLE]: deletesOf(third) } },
    ]);
  });

  it('sends the UnprocessedItems of a batch again until none are left', async () => {
    const page = items(4);
    const [, second, , fourth] = deletesOf(page);
    ddb.on(ScanCommand).resolves({ Items: page });
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { [TABLE]: [second, fourth] } })
      .resolvesOnce({ UnprocessedItems: {} });

    expect(await deletePooledItems(documentClient(), TABLE, 'acme')).to.deep.equal({ deleted: 4 });
    expect(batchWrites()).to.deep.equal([
      { RequestItems: { [TABLE]: deletesOf(page) } },
      { RequestItems: { [TABLE]: [second, fourth] } },
    ]);
  });

  it('gives up with a ThrottlingException after eight rounds of persistent UnprocessedItems, backing off up to 2 s', async () => {
    const page = items(3);
    const [first] = deletesOf(page);
    ddb.on(ScanCommand).resolves({ Items: page });
    ddb.on(BatchWriteCommand).resolves({ UnprocessedItems: { [TABLE]: [first] } });
    // Run the back-off sleeps at once, recording how long each would have been (7.1 s in all).
    const realSetTimeout = globalThis.setTimeout;
    const delays: number[] = [];
    globalThis.setTimeout = ((handler: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return realSetTimeout(handler, 0);
    }) as unknown as typeof setTimeout;

    let failure: unknown;
    try {
      await deletePooledItems(documentClient(), TABLE, 'acme').catch((err: unknown) => (failure = err));
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }

    expect(failure).to.be.instanceOf(Error);
    expect(failure).to.have.property('name', 'ThrottlingException');
    expect(failure).to.have.property('message', '1 deletes stayed unprocessed');
    expect(batchWrites()).to.have.length(8);
    expect(batchWrites().slice(1)).to.deep.equal(Array(7).fill({ RequestItems: { [TABLE]: [first] } }));
    expect(delays).to.deep.equal([100, 200, 400, 800, 1600, 2000, 2000]);
  });
});
