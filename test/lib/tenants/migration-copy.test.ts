import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { Limiter } from '../../../src/lib/tenants/batch.js';
import {
  copyTenantItems,
  deleteTenantItems,
  freshCursors,
  getAll,
  parallelScan,
  tenantScanInput,
} from '../../../src/lib/tenants/migration-copy.js';
import { itemSize, type Item } from '../../../src/lib/tenants/migration-digest.js';
import type { SegmentCursor } from '../../../src/lib/tenants/migration-state.js';
import { countSource } from '../../../src/lib/tenants/migration-plan.js';

const POOLED = 'dev-pooled';
const SILO = 'dev-tenant-acme';

function item(i: number): Item {
  return {
    PK: { S: i % 2 === 0 ? 'TENANT#acme' : 'TENANT#acme#1' },
    SK: { S: `ITEM#${String(i).padStart(4, '0')}` },
    n: { N: String(i) },
  };
}

function items(from: number, count: number): Item[] {
  return Array.from({ length: count }, (_, i) => item(from + i));
}

const keyOf = (i: number): Item => ({ PK: item(i).PK, SK: item(i).SK });

const filter = {
  FilterExpression: 'PK = :pk OR begins_with(PK, :shard)',
  ExpressionAttributeValues: { ':pk': { S: 'TENANT#acme' }, ':shard': { S: 'TENANT#acme#' } },
  ConsistentRead: true,
};

const noSleep = { sleep: async () => undefined };

describe('migration copy', () => {
  let dynamodb: AwsClientStub<DynamoDBClient>;
  let client: DynamoDBClient;

  const scans = () => dynamodb.commandCalls(ScanCommand).map((c) => c.args[0].input);
  const writes = () => dynamodb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input);

  // Created here, not at module level: stubs are process-wide and other spec files stub DynamoDBClient too.
  before(() => {
    dynamodb = mockClient(DynamoDBClient);
  });

  after(() => {
    dynamodb.restore();
  });

  beforeEach(() => {
    dynamodb.reset();
    client = new DynamoDBClient({ region: 'us-east-1' });
  });

  describe('tenantScanInput', () => {
    it('filters on the exact partition and its shards, never the bare prefix, with consistent reads', () => {
      expect(tenantScanInput(POOLED, 'acme', 0, 1)).to.deep.equal({ TableName: POOLED, ...filter });
      expect(tenantScanInput(POOLED, 'acme', 2, 4, keyOf(3))).to.deep.equal({
        TableName: POOLED,
        ...filter,
        Segment: 2,
        TotalSegments: 4,
        ExclusiveStartKey: keyOf(3),
      });
    });
  });

  describe('parallelScan', () => {
    it('scans every segment, each following its own LastEvaluatedKey, resuming from its cursor and skipping finished ones', async () => {
      dynamodb
        .on(ScanCommand, { Segment: 0 })
        .resolvesOnce({ Items: items(0, 2), LastEvaluatedKey: keyOf(1) })
        .resolvesOnce({ Items: [] });
      dynamodb.on(ScanCommand, { Segment: 2 }).resolvesOnce({ Items: items(10, 1) });
      const cursors: SegmentCursor[] = [
        { done: false, items: 0, bytes: 0 },
        { done: true, items: 5, bytes: 50 },
        { done: false, startKey: keyOf(9), items: 3, bytes: 30 },
      ];
      const pages: [number, number, Item | undefined][] = [];
      await parallelScan({ client, table: POOLED }, 'acme', cursors, async (segment, page, next) => {
        pages.push([segment, page.length, next]);
      });

      expect(scans()).to.have.deep.members([
        { TableName: POOLED, ...filter, Segment: 0, TotalSegments: 3 },
        { TableName: POOLED, ...filter, Segment: 0, TotalSegments: 3, ExclusiveStartKey: keyOf(1) },
        { TableName: POOLED, ...filter, Segment: 2, TotalSegments: 3, ExclusiveStartKey: keyOf(9) },
      ]);
      expect(pages).to.have.deep.members([
        [0, 2, keyOf(1)],
        [0, 0, undefined],
        [2, 1, undefined],
      ]);
    });
  });

  describe('copyTenantItems', () => {
    it('writes each page in batches of 25 puts, unchanged, then checkpoints the segment with its next key', async () => {
      const first = items(0, 30);
      const second = items(30, 3);
      dynamodb
        .on(ScanCommand)
        .resolvesOnce({ Items: first, LastEvaluatedKey: keyOf(29) })
        .resolvesOnce({ Items: second });
      dynamodb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
      const checkpoints: [number, SegmentCursor, number][] = [];
      let written = 0;

      const cursors = await copyTenantItems(
        { client, table: POOLED },
        { client, table: SILO },
        'acme',
        freshCursors(1),
        new Limiter(1),
        {
          onWritten: (count) => (written += count),
          onPageCopied: async (segment, cursor) => {
            checkpoints.push([segment, cursor, writes().length]);
          },
        },
      );

      const puts = (page: Item[]): WriteRequest[] => page.map((Item) => ({ PutRequest: { Item } }));
      expect(writes()).to.deep.equal([
        { RequestItems: { [SILO]: puts(first.slice(0, 25)) } },
        { RequestItems: { [SILO]: puts(first.slice(25)) } },
        { RequestItems: { [SILO]: puts(second) } },
      ]);
      const bytes = (page: Item[]) => page.reduce((n, i) => n + itemSize(i), 0);
      // Each checkpoint comes after its page's writes, never before.
      expect(checkpoints).to.deep.equal([
        [0, { done: false, startKey: keyOf(29), items: 30, bytes: bytes(first) }, 2],
        [0, { done: true, items: 33, bytes: bytes(first) + bytes(second) }, 3],
      ]);
      expect(cursors).to.deep.equal([checkpoints[1][1]]);
      expect(written).to.equal(33);
    });

    it('resends UnprocessedItems until none are left, backing off between rounds', async () => {
      const page = items(0, 4);
      const [, second, , fourth] = page.map((Item) => ({ PutRequest: { Item } }));
      dynamodb.on(ScanCommand).resolves({ Items: page });
      dynamodb
        .on(BatchWriteItemCommand)
        .resolvesOnce({ UnprocessedItems: { [SILO]: [second, fourth] } })
        .resolvesOnce({ UnprocessedItems: { [SILO]: [fourth] } })
        .resolvesOnce({});
      const slept: number[] = [];

      await copyTenantItems(
        { client, table: POOLED },
        { client, table: SILO },
        'acme',
        freshCursors(1),
        new Limiter(2),
        { onPageCopied: async () => undefined },
        { sleep: async (ms) => void slept.push(ms) },
      );

      expect(writes().slice(1)).to.deep.equal([
        { RequestItems: { [SILO]: [second, fourth] } },
        { RequestItems: { [SILO]: [fourth] } },
      ]);
      expect(slept).to.deep.equal([100, 200]);
    });

    it('gives up with DYNAMODB_THROTTLED after ten rounds with requests left, without checkpointing the page', async () => {
      const page = items(0, 1);
      dynamodb.on(ScanCommand).resolves({ Items: page });
      dynamodb
        .on(BatchWriteItemCommand)
        .resolves({ UnprocessedItems: { [SILO]: [{ PutRequest: { Item: page[0] } }] } });
      let checkpointed = false;

      const failure = await copyTenantItems(
        { client, table: POOLED },
        { client, table: SILO },
        'acme',
        freshCursors(1),
        new Limiter(1),
        { onPageCopied: async () => void (checkpointed = true) },
        noSleep,
      ).catch((err: unknown) => err);

      expect(failure).to.have.property('code', 'DYNAMODB_THROTTLED');
      expect(writes()).to.have.length(10);
      expect(checkpointed).to.equal(false);
    });
  });

  describe('getAll', () => {
    it('reads keys consistently, 100 per BatchGetItem, and asks again for UnprocessedKeys', async () => {
      const keys = Array.from({ length: 101 }, (_, i) => ({ PK: 'TENANT#acme', SK: `K${i}` }));
      const asItem = (k: { PK: string; SK: string }): Item => ({ PK: { S: k.PK }, SK: { S: k.SK } });
      dynamodb
        .on(BatchGetItemCommand)
        .resolvesOnce({
          Responses: { [SILO]: keys.slice(0, 98).map(asItem) },
          UnprocessedKeys: { [SILO]: { Keys: keys.slice(98, 100).map(asItem) } },
        })
        .resolvesOnce({ Responses: { [SILO]: keys.slice(98, 100).map(asItem) } })
        .resolvesOnce({ Responses: { [SILO]: [asItem(keys[100])] } });

      const found = await getAll({ client, table: SILO }, keys, new Limiter(1), noSleep);

      expect(found.size).to.equal(101);
      expect(dynamodb.commandCalls(BatchGetItemCommand).map((c) => c.args[0].input)).to.deep.equal([
        { RequestItems: { [SILO]: { Keys: keys.slice(0, 100).map(asItem), ConsistentRead: true } } },
        { RequestItems: { [SILO]: { Keys: keys.slice(98, 100).map(asItem), ConsistentRead: true } } },
        { RequestItems: { [SILO]: { Keys: [asItem(keys[100])], ConsistentRead: true } } },
      ]);
    });
  });

  describe('deleteTenantItems', () => {
    it('deletes each scanned item of the tenant by its key, and counts them', async () => {
      dynamodb
        .on(ScanCommand)
        .resolvesOnce({ Items: items(0, 2), LastEvaluatedKey: keyOf(1) })
        .resolvesOnce({ Items: [] });
      dynamodb.on(BatchWriteItemCommand).resolves({});
      const heard: number[] = [];

      const deleted = await deleteTenantItems({ client, table: SILO }, 'acme', 1, new Limiter(1), (n) =>
        heard.push(n),
      );

      expect(deleted).to.equal(2);
      expect(heard).to.deep.equal([2]);
      expect(scans()[0]).to.deep.equal({ TableName: SILO, ...filter });
      expect(writes()).to.deep.equal([
        {
          RequestItems: {
            [SILO]: [{ DeleteRequest: { Key: keyOf(0) } }, { DeleteRequest: { Key: keyOf(1) } }],
          },
        },
      ]);
    });
  });

  describe('countSource (the plan)', () => {
    it('counts items, bytes as DynamoDB sizes them, and distinct partitions over every segment', async () => {
      dynamodb.on(ScanCommand, { Segment: 0 }).resolves({ Items: items(0, 3) });
      dynamodb.on(ScanCommand, { Segment: 1 }).resolves({ Items: [] });
      const expected = items(0, 3).reduce((n, i) => n + itemSize(i), 0);

      expect(await countSource({ client, table: POOLED }, 'acme', 2)).to.deep.equal({
        items: 3,
        bytes: expected,
        partitions: 2,
      });
      expect(scans()).to.have.deep.members([
        { TableName: POOLED, ...filter, Segment: 0, TotalSegments: 2 },
        { TableName: POOLED, ...filter, Segment: 1, TotalSegments: 2 },
      ]);
    });
  });
});
