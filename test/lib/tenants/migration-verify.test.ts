import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  type BatchGetItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { UpdateCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { Limiter } from '../../../src/lib/tenants/batch.js';
import { TenantCatalog } from '../../../src/lib/tenants/catalog.js';
import { digestOf, itemKey, keyId, type Item } from '../../../src/lib/tenants/migration-digest.js';
import type { JournalEntry } from '../../../src/lib/tenants/migration-state.js';
import {
  differences,
  replayKeys,
  SideSnapshot,
  unexplained,
  verifyReport,
} from '../../../src/lib/tenants/migration-verify.js';
import type { Tenant } from '../../../src/lib/tenants/model.js';
import { ddb, documentClient, rejectionOf } from '../helpers/aws.js';

function item(i: number, value = i): Item {
  return { PK: { S: 'TENANT#acme' }, SK: { S: `ITEM#${i}` }, v: { N: String(value) } };
}

function snapshot(items: Item[]): SideSnapshot {
  const side = new SideSnapshot();
  for (const it of items) side.set(keyId(itemKey(it)), it);
  return side;
}

const entry = (i: number, nonce = 'n'): JournalEntry => ({
  key: { PK: 'TENANT#acme', SK: `ITEM#${i}` },
  nonce,
  at: '2026-11-27T00:00:00.000Z',
});

describe('migration verify', () => {
  describe('SideSnapshot and verifyReport', () => {
    it('keeps the digest of what it holds, as digestOf would compute it', () => {
      const side = snapshot([item(1), item(2), item(3)]);
      side.set(keyId(itemKey(item(2))), item(2, 20));
      side.set(keyId(itemKey(item(3))), undefined);
      expect({ count: side.count, digest: side.digest.hex() }).to.deep.equal(
        digestOf([item(1), item(2, 20)]),
      );
    });

    it('reports equal copies: same count, same digest, no differences', () => {
      const report = verifyReport(snapshot([item(1), item(2)]), snapshot([item(2), item(1)]));
      expect(report).to.deep.include({ sourceItems: 2, targetItems: 2, equal: true, differenceCount: 0 });
      expect(report.sourceDigest).to.equal(report.targetDigest);
      expect(report).to.not.have.property('reason');
    });

    it('lists what is missing, extra or different, and says so in words', () => {
      const source = snapshot([item(1), item(2), item(3)]);
      const target = snapshot([item(1), item(2, 99), item(4)]);
      expect(differences(source, target)).to.have.deep.members([
        { PK: 'TENANT#acme', SK: 'ITEM#2', kind: 'differs' },
        { PK: 'TENANT#acme', SK: 'ITEM#3', kind: 'missing' },
        { PK: 'TENANT#acme', SK: 'ITEM#4', kind: 'extra' },
      ]);
      const report = verifyReport(source, target);
      expect(report).to.deep.include({ equal: false, differenceCount: 3, sourceItems: 3, targetItems: 3 });
      expect(report.reason).to.equal(
        '3 items differ between the copies (1 missing from the target, 1 only in the target, 1 with other content)',
      );
      expect(report.sourceDigest).to.not.equal(report.targetDigest);
    });

    it('blames a difference on the copy unless the journal says a writer changed that item', () => {
      const found = differences(snapshot([item(1), item(2)]), snapshot([item(1, 5), item(2, 6)]));
      expect(unexplained(found, [entry(2)])).to.deep.equal([
        { PK: 'TENANT#acme', SK: 'ITEM#1', kind: 'differs' },
      ]);
      expect(unexplained(found, [entry(1), entry(2)])).to.deep.equal([]);
    });
  });

  describe('replayKeys', () => {
    let dynamodb: AwsClientStub<DynamoDBClient>;
    let client: DynamoDBClient;

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

    /** BatchGetItem answers per table. */
    function answerReads(tables: Record<string, Item[]>): void {
      dynamodb.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => {
        const [table] = Object.keys(input.RequestItems ?? {});
        return { Responses: { [table]: tables[table] } };
      });
    }

    it('copies the current source version of each key (a delete where it is gone), then reads both back', async () => {
      const changed = item(1, 100);
      answerReads({ source: [changed], target: [changed] });
      dynamodb.on(BatchWriteItemCommand).resolves({});
      const snapshots = { source: snapshot([item(1), item(2)]), target: snapshot([item(1), item(2)]) };

      const result = await replayKeys(
        [entry(1).key, entry(2).key, entry(1).key],
        { client, table: 'source' },
        { client, table: 'target' },
        snapshots,
        new Limiter(1),
      );

      expect(result).to.deep.equal({ put: 1, deleted: 1 });
      const keys = [
        { PK: { S: 'TENANT#acme' }, SK: { S: 'ITEM#1' } },
        { PK: { S: 'TENANT#acme' }, SK: { S: 'ITEM#2' } },
      ];
      expect(dynamodb.commandCalls(BatchGetItemCommand).map((c) => c.args[0].input)).to.deep.equal([
        { RequestItems: { source: { Keys: keys, ConsistentRead: true } } },
        { RequestItems: { target: { Keys: keys, ConsistentRead: true } } },
      ]);
      expect(dynamodb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input)).to.deep.equal([
        {
          RequestItems: { target: [{ PutRequest: { Item: changed } }, { DeleteRequest: { Key: keys[1] } }] },
        },
      ]);
      expect(verifyReport(snapshots.source, snapshots.target).equal).to.equal(true);
      expect(snapshots.source.count).to.equal(1);
    });

    it('puts into the snapshots what the target really holds, so a failed write shows in verify', async () => {
      answerReads({ source: [item(1, 100)], target: [item(1, 1)] });
      dynamodb.on(BatchWriteItemCommand).resolves({});
      const snapshots = { source: snapshot([item(1)]), target: snapshot([item(1)]) };

      await replayKeys(
        [entry(1).key],
        { client, table: 'source' },
        { client, table: 'target' },
        snapshots,
        new Limiter(1),
      );

      expect(verifyReport(snapshots.source, snapshots.target).equal).to.equal(false);
    });
  });

  describe('TenantCatalog.relocate (the cutover write)', () => {
    const NOW = '2026-11-27T10:00:00.000Z';
    const migrating: Tenant = {
      tenantId: 'acme',
      name: 'Acme',
      tier: 'pro',
      isolation: 'pool',
      status: 'MIGRATING',
      statusReason: 'promote to enterprise: writes refused until cutover',
      region: 'us-east-1',
      adminEmail: 'ops@acme.test',
      version: 7,
      createdAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-20T00:00:00.000Z',
      dataTable: 'dev-tenant-acme',
      keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k',
    };
    const catalog = () => new TenantCatalog(documentClient(), 'cp', () => new Date(NOW));

    beforeEach(() => ddb.reset());

    it('flips tier, isolation and status in one write conditioned on the version, with its audit record', async () => {
      ddb.on(GetCommand).resolves({ Item: { ...migrating } });
      ddb.on(UpdateCommand).resolves({});

      const { tenant, changed } = await catalog().relocate(
        'acme',
        { tier: 'enterprise', isolation: 'silo', dataTable: 'dev-tenant-acme', keyArn: migrating.keyArn },
        { action: 'promote', actor: 'local:ops', reason: 'bigger' },
      );

      expect(changed).to.equal(true);
      expect(tenant).to.include({ tier: 'enterprise', isolation: 'silo', status: 'ACTIVE', version: 8 });
      expect(tenant).to.not.have.property('statusReason');
      const [update] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      expect(update.ConditionExpression).to.equal('#expected = :expected');
      expect(update.ExpressionAttributeValues?.[':expected']).to.equal(7);
      const audit = {
        tenantId: 'acme',
        at: NOW,
        actor: 'local:ops',
        reason: 'bigger',
        version: 8,
        action: 'promote',
        fromStatus: 'MIGRATING',
        toStatus: 'ACTIVE',
        changes: { tier: { from: 'pro', to: 'enterprise' }, isolation: { from: 'pool', to: 'silo' } },
      };
      const assigned = Object.fromEntries(
        Object.entries(update.ExpressionAttributeNames ?? {})
          .filter(([k]) => k.startsWith('#f'))
          .map(([k, name]) => [name, update.ExpressionAttributeValues?.[`:v${k.slice(2)}`]]),
      );
      expect(assigned).to.deep.equal({
        status: 'ACTIVE',
        tier: 'enterprise',
        isolation: 'silo',
        dataTable: 'dev-tenant-acme',
        keyArn: migrating.keyArn,
        updatedAt: NOW,
        version: 8,
        lastChange: audit,
      });
      expect(update.UpdateExpression).to.match(/ REMOVE #r0$/);
      expect(update.ExpressionAttributeNames?.['#r0']).to.equal('statusReason');
    });

    it('removes the data table and key on a demote', async () => {
      ddb.on(GetCommand).resolves({ Item: { ...migrating, tier: 'enterprise', isolation: 'silo' } });
      ddb.on(UpdateCommand).resolves({});
      await catalog().relocate(
        'acme',
        { tier: 'pro', isolation: 'pool', dataTable: undefined, keyArn: undefined },
        { action: 'demote', actor: 'local:ops' },
      );
      const [update] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      const removed = Object.entries(update.ExpressionAttributeNames ?? {})
        .filter(([k]) => k.startsWith('#r'))
        .map(([, name]) => name);
      expect(removed).to.have.members(['statusReason', 'dataTable', 'keyArn']);
    });

    it('is idempotent once cut over, and refuses a tenant that is not MIGRATING', async () => {
      ddb
        .on(GetCommand)
        .resolves({ Item: { ...migrating, status: 'ACTIVE', tier: 'enterprise', isolation: 'silo' } });
      const again = await catalog().relocate(
        'acme',
        { tier: 'enterprise', isolation: 'silo' },
        { action: 'promote', actor: 'local:ops' },
      );
      expect(again.changed).to.equal(false);
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);

      ddb.reset();
      ddb.on(GetCommand).resolves({ Item: { ...migrating, status: 'ACTIVE' } });
      const err = await rejectionOf(
        catalog().relocate(
          'acme',
          { tier: 'enterprise', isolation: 'silo' },
          { action: 'promote', actor: 'x' },
        ),
      );
      expect(err).to.include({ code: 'INVALID_TRANSITION', exitCode: 4 });
    });
  });
});
