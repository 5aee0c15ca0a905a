import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { keyId, type Item } from '../../../src/lib/tenants/migration-digest.js';
import {
  MigrationJournal,
  MigrationStore,
  type MigrationState,
} from '../../../src/lib/tenants/migration-state.js';
import {
  assertWritable,
  dataTableOf,
  isTenantPartition,
  TenantDataWriter,
} from '../../../src/lib/tenants/tenant-data.js';
import { awsError, ddb, documentClient, rejectionOf, thrownBy } from '../helpers/aws.js';

const CONTROL = 'dev-control-plane';
const POOLED = 'dev-pooled';
const MIGRATION_ID = '6f1c0c3e-0000-4000-8000-000000000001';

function item(i: number): Item {
  return { PK: { S: 'TENANT#acme' }, SK: { S: `ITEM#${i}` }, n: { N: String(i) } };
}

const tenantRecord = (overrides: Record<string, unknown> = {}) => ({
  status: 'ACTIVE',
  isolation: 'pool',
  region: 'us-east-1',
  ...overrides,
});

const contextRead = {
  TableName: CONTROL,
  Key: { PK: 'TENANT#acme', SK: 'PROFILE' },
  ConsistentRead: true,
  ProjectionExpression: '#status, #isolation, #region, #account, #table, #migration',
  ExpressionAttributeNames: {
    '#status': 'status',
    '#isolation': 'isolation',
    '#region': 'region',
    '#account': 'accountId',
    '#table': 'dataTable',
    '#migration': 'migration',
  },
};

describe('tenant data', () => {
  describe('isTenantPartition', () => {
    it('accepts TENANT#<id> and TENANT#<id>#<shard> only, never another tenant sharing the prefix', () => {
      expect(isTenantPartition('acme', 'TENANT#acme')).to.equal(true);
      expect(isTenantPartition('acme', 'TENANT#acme#3')).to.equal(true);
      expect(isTenantPartition('acme', 'TENANT#acme2')).to.equal(false);
      expect(isTenantPartition('acme', 'TENANT#acm')).to.equal(false);
    });
  });

  describe('assertWritable', () => {
    it('lets an ACTIVE tenant write', () => {
      expect(() => assertWritable({ tenantId: 'acme', status: 'ACTIVE' })).to.not.throw();
    });

    it('answers a MIGRATING tenant with a retryable TENANT_MIGRATING (exit 4)', () => {
      const err = thrownBy(() => assertWritable({ tenantId: 'acme', status: 'MIGRATING' }));
      expect(err.code).to.equal('TENANT_MIGRATING');
      expect(err.exitCode).to.equal(4);
      expect(err.details).to.deep.equal({ retryable: true, retryAfterSeconds: 5 });
    });

    it('refuses every other status as not writable', () => {
      for (const status of ['PROVISIONING', 'SUSPENDED', 'OFFBOARDING', 'DELETED'] as const) {
        expect(thrownBy(() => assertWritable({ tenantId: 'acme', status })).code, status).to.equal(
          'TENANT_NOT_WRITABLE',
        );
      }
    });
  });

  describe('dataTableOf', () => {
    it('follows the isolation model: pooled tiers write to the pooled table, silos to their own', () => {
      expect(
        dataTableOf({ tenantId: 'acme', isolation: 'pool', dataTable: 'dev-tenant-acme' }, POOLED),
      ).to.equal(POOLED);
      expect(dataTableOf({ tenantId: 'acme', isolation: 'pool-dedicated-table' }, POOLED)).to.equal(POOLED);
      expect(
        dataTableOf({ tenantId: 'acme', isolation: 'silo', dataTable: 'dev-tenant-acme' }, POOLED),
      ).to.equal('dev-tenant-acme');
      expect(thrownBy(() => dataTableOf({ tenantId: 'acme', isolation: 'silo' }, POOLED)).code).to.equal(
        'TENANT_TABLE_MISSING',
      );
    });
  });

  describe('TenantDataWriter', () => {
    let dynamodb: AwsClientStub<DynamoDBClient>;
    let clock: number;
    const order: string[] = [];

    before(() => {
      dynamodb = mockClient(DynamoDBClient);
    });

    after(() => {
      dynamodb.restore();
    });

    beforeEach(() => {
      ddb.reset();
      dynamodb.reset();
      order.length = 0;
      clock = 1_000_000;
      ddb.on(BatchWriteCommand).callsFake(() => {
        order.push('journal');
        return {};
      });
      dynamodb.on(BatchWriteItemCommand).callsFake(() => {
        order.push('data');
        return {};
      });
    });

    function writer(concurrency = 1): TenantDataWriter {
      const data = new DynamoDBClient({ region: 'us-east-1' });
      return new TenantDataWriter({
        documents: documentClient(),
        controlPlaneTable: CONTROL,
        pooledTable: POOLED,
        dataClient: () => data,
        deadlineMs: 1000,
        concurrency,
        now: () => clock,
      });
    }

    it('reads the status consistently, then writes to wherever the data lives, 25 items per batch', async () => {
      ddb
        .on(GetCommand)
        .resolves({ Item: tenantRecord({ isolation: 'silo', dataTable: 'dev-tenant-acme' }) });
      const items = Array.from({ length: 30 }, (_, i) => item(i));

      const result = await writer().put('acme', items);

      expect(result).to.deep.equal({ table: 'dev-tenant-acme', written: 30, journaled: 0 });
      expect(ddb.commandCalls(GetCommand).map((c) => c.args[0].input)).to.deep.equal([contextRead]);
      expect(dynamodb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input)).to.deep.equal([
        { RequestItems: { 'dev-tenant-acme': items.slice(0, 25).map((Item) => ({ PutRequest: { Item } })) } },
        { RequestItems: { 'dev-tenant-acme': items.slice(25).map((Item) => ({ PutRequest: { Item } })) } },
      ]);
      expect(order).to.deep.equal(['data', 'data']);
    });

    it('journals the keys of a batch before writing it while a migration copies', async () => {
      const migration = { id: MIGRATION_ID, phase: 'COPYING' } as Partial<MigrationState>;
      ddb.on(GetCommand).resolves({ Item: tenantRecord({ migration }) });

      const result = await writer().delete('acme', [
        { PK: 'TENANT#acme', SK: 'ITEM#1' },
        { PK: 'TENANT#acme#2', SK: 'ITEM#2' },
      ]);

      expect(result).to.deep.equal({ table: POOLED, written: 2, journaled: 2 });
      expect(order).to.deep.equal(['journal', 'data']);
      const [journal] = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input);
      const entries = journal.RequestItems?.[CONTROL] ?? [];
      expect(
        entries.map((e) => [e.PutRequest?.Item?.PK, e.PutRequest?.Item?.itemPK, e.PutRequest?.Item?.itemSK]),
      ).to.deep.equal([
        [`MIGRATION#${MIGRATION_ID}`, 'TENANT#acme', 'ITEM#1'],
        [`MIGRATION#${MIGRATION_ID}`, 'TENANT#acme#2', 'ITEM#2'],
      ]);
      expect(String(entries[0].PutRequest?.Item?.SK)).to.match(/^CHANGE#[0-9a-f]{64}$/);
      expect(dynamodb.commandCalls(BatchWriteItemCommand)[0].args[0].input).to.deep.equal({
        RequestItems: {
          [POOLED]: [
            { DeleteRequest: { Key: { PK: { S: 'TENANT#acme' }, SK: { S: 'ITEM#1' } } } },
            { DeleteRequest: { Key: { PK: { S: 'TENANT#acme#2' }, SK: { S: 'ITEM#2' } } } },
          ],
        },
      });
    });

    it('does not journal once the migration is cut over or done', async () => {
      ddb
        .on(GetCommand)
        .resolves({ Item: tenantRecord({ migration: { id: MIGRATION_ID, phase: 'CUT_OVER' } }) });
      await writer().put('acme', [item(1)]);
      expect(order).to.deep.equal(['data']);
    });

    it('refuses to write while the tenant is MIGRATING, writing nothing', async () => {
      ddb.on(GetCommand).resolves({ Item: tenantRecord({ status: 'MIGRATING' }) });
      const err = await rejectionOf(writer().put('acme', [item(1)]));
      expect(err.code).to.equal('TENANT_MIGRATING');
      expect(order).to.deep.equal([]);
    });

    it("refuses another tenant's keys before any call", async () => {
      const err = await rejectionOf(writer().put('acme', [{ PK: { S: 'TENANT#acme2' }, SK: { S: 'x' } }]));
      expect(err.code).to.equal('FOREIGN_PARTITION_KEY');
      expect(ddb.calls()).to.have.length(0);
    });

    it('reads the status again when its last read is older than half the deadline', async () => {
      ddb.on(GetCommand).resolves({ Item: tenantRecord() });
      const w = writer();
      await w.put('acme', [item(1)]);
      clock += 400;
      await w.put('acme', [item(2)]);
      expect(ddb.commandCalls(GetCommand)).to.have.length(1);
      clock += 200;
      await w.put('acme', [item(3)]);
      expect(ddb.commandCalls(GetCommand)).to.have.length(2);
    });

    it('checks the status again before resending UnprocessedItems, and stops when the tenant froze meanwhile', async () => {
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: tenantRecord() })
        .resolves({ Item: tenantRecord({ status: 'MIGRATING' }) });
      const first = { PutRequest: { Item: item(1) } };
      dynamodb.on(BatchWriteItemCommand).callsFake(() => {
        order.push('data');
        clock += 600;
        return { UnprocessedItems: { [POOLED]: [first] } };
      });
      const w = new TenantDataWriter({
        documents: documentClient(),
        controlPlaneTable: CONTROL,
        pooledTable: POOLED,
        dataClient: () => new DynamoDBClient({ region: 'us-east-1' }),
        deadlineMs: 1000,
        now: () => clock,
        retry: { sleep: async () => undefined },
      });
      const err = await rejectionOf(w.put('acme', [item(1), item(2)]));
      expect(err.code).to.equal('TENANT_MIGRATING');
      expect(order).to.deep.equal(['data']);
      expect(ddb.commandCalls(GetCommand)).to.have.length(2);
    });

    it('reads the status again before writing when the journal write outlasted the deadline', async () => {
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: tenantRecord({ migration: { id: MIGRATION_ID, phase: 'COPYING' } }) })
        .resolves({
          Item: tenantRecord({ status: 'MIGRATING', migration: { id: MIGRATION_ID, phase: 'FROZEN' } }),
        });
      ddb.on(BatchWriteCommand).callsFake(() => {
        order.push('journal');
        clock += 1500;
        return {};
      });
      const err = await rejectionOf(writer().put('acme', [item(1)]));
      expect(err.code).to.equal('TENANT_MIGRATING');
      expect(order).to.deep.equal(['journal']);
    });
  });

  describe('MigrationStore', () => {
    const state = { id: MIGRATION_ID, rev: 0, phase: 'STARTED' } as unknown as MigrationState;

    beforeEach(() => ddb.reset());

    it('starts a migration only where none is recorded', async () => {
      ddb.on(UpdateCommand).resolves({});
      const started = await new MigrationStore(documentClient(), CONTROL).start('acme', state);
      expect(started.rev).to.equal(1);
      expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).to.deep.equal({
        TableName: CONTROL,
        Key: { PK: 'TENANT#acme', SK: 'PROFILE' },
        UpdateExpression: 'SET #m = :state',
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(#m)',
        ExpressionAttributeNames: { '#m': 'migration' },
        ExpressionAttributeValues: { ':state': { ...state, rev: 1 } },
      });
    });

    it('replaces a finished migration only if it is still the one this run read', async () => {
      ddb.on(UpdateCommand).resolves({});
      const previous = { id: 'old', rev: 9, phase: 'DONE' } as unknown as MigrationState;
      await new MigrationStore(documentClient(), CONTROL).start('acme', state, previous);
      expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).to.deep.include({
        ConditionExpression: 'attribute_exists(PK) AND #m.#id = :previous AND #m.#rev = :previousRev',
        ExpressionAttributeNames: { '#m': 'migration', '#id': 'id', '#rev': 'rev' },
        ExpressionAttributeValues: { ':state': { ...state, rev: 1 }, ':previous': 'old', ':previousRev': 9 },
      });
    });

    it('saves a checkpoint on the revision it holds, and reports a concurrent run as a conflict', async () => {
      ddb.on(UpdateCommand).resolvesOnce({}).rejectsOnce(awsError('ConditionalCheckFailedException'));
      const store = new MigrationStore(documentClient(), CONTROL);
      const saved = await store.save('acme', { ...state, rev: 4 });
      expect(saved.rev).to.equal(5);
      expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).to.deep.include({
        ConditionExpression: '#m.#id = :id AND #m.#rev = :rev',
        ExpressionAttributeValues: { ':state': { ...state, rev: 5 }, ':id': MIGRATION_ID, ':rev': 4 },
      });
      const err = await rejectionOf(store.save('acme', { ...state, rev: 4 }));
      expect(err.code).to.equal('MIGRATION_CONCURRENT');
      expect(err.exitCode).to.equal(4);
    });
  });

  describe('MigrationJournal', () => {
    beforeEach(() => ddb.reset());

    it('lists every entry of a migration, page by page, with consistent reads', async () => {
      const entry = (sk: string) => ({ itemPK: 'TENANT#acme', itemSK: sk, nonce: `n-${sk}`, at: 't' });
      ddb
        .on(QueryCommand)
        .resolvesOnce({ Items: [entry('A')], LastEvaluatedKey: { PK: 'x', SK: 'y' } })
        .resolvesOnce({ Items: [entry('B')] });
      const entries = await new MigrationJournal(documentClient(), CONTROL).entries(MIGRATION_ID);
      expect(entries.map((e) => [keyId(e.key), e.nonce])).to.deep.equal([
        [keyId({ PK: 'TENANT#acme', SK: 'A' }), 'n-A'],
        [keyId({ PK: 'TENANT#acme', SK: 'B' }), 'n-B'],
      ]);
      expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input)).to.deep.equal([
        {
          TableName: CONTROL,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': `MIGRATION#${MIGRATION_ID}` },
          ConsistentRead: true,
          ExclusiveStartKey: undefined,
        },
        {
          TableName: CONTROL,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': `MIGRATION#${MIGRATION_ID}` },
          ConsistentRead: true,
          ExclusiveStartKey: { PK: 'x', SK: 'y' },
        },
      ]);
    });

    it('records one entry per key even when a batch names a key twice (BatchWriteItem refuses duplicates)', async () => {
      ddb.on(BatchWriteCommand).resolves({});
      await new MigrationJournal(documentClient(), CONTROL).record(MIGRATION_ID, [
        { PK: 'TENANT#acme', SK: 'A' },
        { PK: 'TENANT#acme', SK: 'A' },
      ]);
      const [input] = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input);
      expect(input.RequestItems?.[CONTROL]).to.have.length(1);
    });
  });
});
