import { hostname } from 'node:os';

import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { LEASE_MS, MarketplaceLedger, type LedgerRecord } from '../../../src/lib/metering/ledger.js';
import { awsError, ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const TABLE = 'ledger-table';
const NOW = Date.UTC(2026, 10, 27, 12, 30);

function record(i: number, overrides: Partial<LedgerRecord> = {}): LedgerRecord {
  return {
    tenantId: 'acme',
    dimension: `d${i}`,
    hour: '2026-11-27T10',
    timestamp: '2026-11-27T10:00:00.000Z',
    quantity: i,
    customer: {
      customerAwsAccountId: '111122223333',
      licenseArn: 'arn:aws:license-manager::111122223333:license:l-x',
    },
    covers: { [`api.call#2026-11-27T10`]: i },
    state: 'PENDING',
    runId: 'run-1',
    attempts: 0,
    createdAt: '2026-11-27T12:30:00.000Z',
    updatedAt: '2026-11-27T12:30:00.000Z',
    ...overrides,
  };
}

function stored(r: LedgerRecord): Record<string, unknown> {
  return {
    PK: `TENANT#${r.tenantId}`,
    SK: `RECORD#${r.hour}#${r.dimension}`,
    entity: 'marketplace-record',
    ...r,
  };
}

describe('MarketplaceLedger', () => {
  const sleeps: number[] = [];
  const ledger = new MarketplaceLedger(documentClient(), TABLE, async (ms) => void sleeps.push(ms));
  beforeEach(() => {
    ddb.reset();
    sleeps.length = 0;
  });

  describe('list', () => {
    it("queries one tenant's records of a period by sort key, consistently", async () => {
      ddb.on(QueryCommand).resolves({ Items: [stored(record(2)), stored(record(1))] });

      const records = await ledger.list({ tenantId: 'acme', from: '2026-11-27T00', to: '2026-11-27T23' });

      expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input)).to.deep.equal([
        {
          TableName: TABLE,
          KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': 'TENANT#acme',
            ':from': 'RECORD#2026-11-27T00',
            ':to': 'RECORD#2026-11-27T23$',
          },
          ConsistentRead: true,
          ExclusiveStartKey: undefined,
        },
      ]);
      expect(records).to.deep.equal([record(1), record(2)]);
    });

    it('scans every tenant, page by page, keeping only records of the period', async () => {
      ddb
        .on(ScanCommand)
        .resolvesOnce({ Items: [stored(record(1))], LastEvaluatedKey: { PK: 'x', SK: 'y' } })
        .resolvesOnce({ Items: [stored(record(2, { tenantId: 'globex' }))] });

      const records = await ledger.list({ from: '2026-11-27T00', to: '2026-11-27T23' });

      const inputs = ddb.commandCalls(ScanCommand).map((c) => c.args[0].input);
      expect(inputs[0]).to.deep.equal({
        TableName: TABLE,
        FilterExpression: '#entity = :entity AND #hour BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#entity': 'entity', '#hour': 'hour' },
        ExpressionAttributeValues: {
          ':entity': 'marketplace-record',
          ':from': '2026-11-27T00',
          ':to': '2026-11-27T23',
        },
        ConsistentRead: true,
        ExclusiveStartKey: undefined,
      });
      expect(inputs[1].ExclusiveStartKey).to.deep.equal({ PK: 'x', SK: 'y' });
      expect(records.map((r) => r.tenantId)).to.deep.equal(['acme', 'globex']);
    });
  });

  describe('put and remove', () => {
    it('writes whole items 25 at a time, and writes unprocessed ones again with backoff', async () => {
      const records = Array.from({ length: 30 }, (_, i) => record(i));
      ddb
        .on(BatchWriteCommand)
        .resolvesOnce({
          UnprocessedItems: { [TABLE]: [{ PutRequest: { Item: stored(records[3]) } }] },
        })
        .resolves({});

      await ledger.put(records);

      // Chunks go out a few at once, so the retry of the first comes after the second.
      const calls = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input);
      expect(calls).to.deep.equal([
        { RequestItems: { [TABLE]: records.slice(0, 25).map((r) => ({ PutRequest: { Item: stored(r) } })) } },
        { RequestItems: { [TABLE]: records.slice(25).map((r) => ({ PutRequest: { Item: stored(r) } })) } },
        { RequestItems: { [TABLE]: [{ PutRequest: { Item: stored(records[3]) } }] } },
      ]);
      expect(sleeps).to.deep.equal([100]);
    });

    it('gives up with a clear error when DynamoDB keeps items unprocessed', async () => {
      ddb
        .on(BatchWriteCommand)
        .resolves({ UnprocessedItems: { [TABLE]: [{ PutRequest: { Item: stored(record(1)) } }] } });

      const err = await rejectionOf(ledger.put([record(1)]));

      expect(err.code).to.equal('LEDGER_WRITE_THROTTLED');
      expect(ddb.commandCalls(BatchWriteCommand)).to.have.length(8);
    });

    it('removes records by key', async () => {
      ddb.on(BatchWriteCommand).resolves({});
      await ledger.remove([record(1)]);
      expect(ddb.commandCalls(BatchWriteCommand)[0].args[0].input).to.deep.equal({
        RequestItems: {
          [TABLE]: [{ DeleteRequest: { Key: { PK: 'TENANT#acme', SK: 'RECORD#2026-11-27T10#d1' } } }],
        },
      });
    });
  });

  describe('the push lease', () => {
    const mine = { runId: 'run-2', host: hostname(), pid: process.pid, expiresAt: NOW + LEASE_MS };

    it('takes a free or expired lease with one conditional put', async () => {
      ddb.on(PutCommand).resolves({});

      expect(await ledger.acquire('run-2', NOW, () => true)).to.deep.equal(mine);
      expect(ddb.commandCalls(PutCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Item: { PK: 'PUSH', SK: 'LOCK', entity: 'push-lease', ...mine },
        ConditionExpression: 'attribute_not_exists(PK) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': NOW },
      });
    });

    it('takes over the lease of a dead push on this host (a crash), conditional on its run id', async () => {
      ddb.on(PutCommand).rejectsOnce(awsError('ConditionalCheckFailedException')).resolves({});
      ddb.on(GetCommand).resolves({
        Item: {
          PK: 'PUSH',
          SK: 'LOCK',
          runId: 'run-1',
          host: hostname(),
          pid: 999999,
          expiresAt: NOW + 1000,
        },
      });

      expect(await ledger.acquire('run-2', NOW, (pid) => pid !== 999999)).to.deep.equal(mine);
      expect(ddb.commandCalls(PutCommand)[1].args[0].input).to.deep.include({
        ConditionExpression: 'runId = :holder',
        ExpressionAttributeValues: { ':holder': 'run-1' },
      });
    });

    it('refuses with exit 4 while a live push holds it', async () => {
      ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
      ddb.on(GetCommand).resolves({
        Item: { runId: 'run-1', host: 'ci-runner-7', pid: 42, expiresAt: NOW + 1000 },
      });

      const err = await rejectionOf(ledger.acquire('run-2', NOW, () => false));

      expect(err.code).to.equal('PUSH_IN_PROGRESS');
      expect(err.exitCode).to.equal(4);
      expect(err.message).to.include('run run-1, pid 42 on ci-runner-7');
      expect(ddb.commandCalls(PutCommand)).to.have.length(1);
    });

    it('renews and releases only its own lease', async () => {
      ddb.on(UpdateCommand).resolvesOnce({}).rejectsOnce(awsError('ConditionalCheckFailedException'));
      ddb.on(DeleteCommand).resolves({});

      expect(await ledger.renew(mine, NOW + 60_000)).to.equal(true);
      expect(await ledger.renew(mine, NOW + 120_000)).to.equal(false);
      await ledger.release(mine);

      expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Key: { PK: 'PUSH', SK: 'LOCK' },
        UpdateExpression: 'SET expiresAt = :expiresAt',
        ConditionExpression: 'runId = :runId',
        ExpressionAttributeValues: { ':expiresAt': NOW + 60_000 + LEASE_MS, ':runId': 'run-2' },
      });
      expect(ddb.commandCalls(DeleteCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Key: { PK: 'PUSH', SK: 'LOCK' },
        ConditionExpression: 'runId = :runId',
        ExpressionAttributeValues: { ':runId': 'run-2' },
      });
    });
  });

  describe('the cursor', () => {
    it('remembers when the last push that completed started', async () => {
      ddb.on(PutCommand).resolves({});
      ddb
        .on(GetCommand)
        .resolvesOnce({})
        .resolvesOnce({ Item: { completedRunAt: '2026-11-27T11:05:00.000Z' } });

      expect(await ledger.lastCompleted()).to.equal(undefined);
      await ledger.recordCompleted('run-2', new Date('2026-11-27T11:05:00.000Z'));
      expect(await ledger.lastCompleted()).to.deep.equal(new Date('2026-11-27T11:05:00.000Z'));

      expect(ddb.commandCalls(PutCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Item: {
          PK: 'PUSH',
          SK: 'CURSOR',
          entity: 'push-cursor',
          runId: 'run-2',
          completedRunAt: '2026-11-27T11:05:00.000Z',
        },
      });
      expect(ddb.commandCalls(GetCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Key: { PK: 'PUSH', SK: 'CURSOR' },
        ConsistentRead: true,
      });
    });
  });
});
