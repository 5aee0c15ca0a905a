import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { TenantCatalog, type NewTenant } from '../../../src/lib/tenants/catalog.js';
import type { AuditRecord, Tenant } from '../../../src/lib/tenants/model.js';
import { awsError, ddb, documentClient, rejectionOf } from '../helpers/aws.js';

const TABLE = 'cp-table';
const NOW = '2026-11-27T10:00:00.000Z';
const CREATED = '2026-11-01T08:00:00.000Z';
const ACTOR = 'arn:aws:sts::123456789012:assumed-role/operator/alice';

const newTenant: NewTenant = {
  tenantId: 'acme',
  name: 'Acme Corp',
  tier: 'pro',
  isolation: 'pool',
  region: 'us-east-1',
  adminEmail: 'ops@acme.example',
};

function tenant(overrides: Partial<Tenant> = {}): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme Corp',
    tier: 'pro',
    isolation: 'pool',
    status: 'PROVISIONING',
    region: 'us-east-1',
    adminEmail: 'ops@acme.example',
    version: 1,
    createdAt: CREATED,
    updatedAt: CREATED,
    ...overrides,
  };
}

function createAudit(): AuditRecord {
  return {
    tenantId: 'acme',
    at: CREATED,
    action: 'create',
    actor: ACTOR,
    reason: 'onboard',
    version: 1,
    toStatus: 'PROVISIONING',
  };
}

/** The tenant as stored: keys, listing attributes, entity and the change that produced it. */
function stored(record: Tenant, lastChange: AuditRecord | null = createAudit()): Record<string, unknown> {
  return {
    PK: `TENANT#${record.tenantId}`,
    SK: 'PROFILE',
    gsi1pk: 'TENANT',
    gsi1sk: record.tenantId,
    entity: 'tenant',
    ...record,
    ...(lastChange ? { lastChange } : {}),
  };
}

function auditPut(record: AuditRecord): Record<string, unknown> {
  return {
    TableName: TABLE,
    Item: {
      PK: `TENANT#${record.tenantId}`,
      SK: `AUDIT#${record.at}#${String(record.version).padStart(8, '0')}`,
      entity: 'audit',
      ...record,
    },
  };
}

const getTenantInput = { TableName: TABLE, Key: { PK: 'TENANT#acme', SK: 'PROFILE' }, ConsistentRead: true };

describe('TenantCatalog', () => {
  let catalog: TenantCatalog;

  beforeEach(() => {
    ddb.reset();
    catalog = new TenantCatalog(documentClient(), TABLE, () => new Date(NOW));
  });

  describe('get and require', () => {
    it('reads the tenant consistently and returns only tenant fields', async () => {
      ddb.on(GetCommand).resolves({ Item: stored(tenant()) });

      expect(await catalog.get('acme')).to.deep.equal(tenant());
      expect(ddb.commandCalls(GetCommand)[0].args[0].input).to.deep.equal(getTenantInput);
    });

    it('returns undefined for a tenant that is not there', async () => {
      ddb.on(GetCommand).resolves({});
      expect(await catalog.get('acme')).to.equal(undefined);
    });

    it('refuses to require a missing tenant with exit 3 TENANT_NOT_FOUND', async () => {
      ddb.on(GetCommand).resolves({});

      const err = await rejectionOf(catalog.require('ghost'));

      expect(err.code).to.equal('TENANT_NOT_FOUND');
      expect(err.exitCode).to.equal(3);
      expect(err.message).to.equal('No tenant "ghost" in the catalog.');
      expect(ddb.commandCalls(GetCommand)[0].args[0].input.Key).to.deep.equal({
        PK: 'TENANT#ghost',
        SK: 'PROFILE',
      });
    });
  });

  describe('create', () => {
    it('writes a PROVISIONING record only if none exists, then its audit item', async () => {
      ddb.on(PutCommand).resolves({});

      const result = await catalog.create(newTenant, { actor: ACTOR, reason: 'onboard' });

      const created = tenant({ createdAt: NOW, updatedAt: NOW });
      const audit: AuditRecord = { ...createAudit(), at: NOW };
      expect(result).to.deep.equal({ tenant: created, created: true });
      const puts = ddb.commandCalls(PutCommand);
      expect(puts).to.have.length(2);
      expect(puts[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Item: {
          PK: 'TENANT#acme',
          SK: 'PROFILE',
          gsi1pk: 'TENANT',
          gsi1sk: 'acme',
          entity: 'tenant',
          ...created,
          lastChange: audit,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      });
      expect(puts[1].args[0].input).to.deep.equal(auditPut(audit));
      expect((puts[1].args[0].input.Item as Record<string, unknown>).SK).to.equal(`AUDIT#${NOW}#00000001`);
      expect(ddb.calls()).to.have.length(2);
    });

    it('stores a plan price when one is given and leaves out an absent reason', async () => {
      ddb.on(PutCommand).resolves({});

      const result = await catalog.create({ ...newTenant, planPrice: 199 }, { actor: ACTOR });

      expect(result.tenant.planPrice).to.equal(199);
      const [record, audit] = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item ?? {});
      expect(record.planPrice).to.equal(199);
      expect(record.lastChange).not.to.have.property('reason');
      expect(audit).not.to.have.property('reason');
    });

    it('returns the existing record with created false when the tenant is already there', async () => {
      const existing = tenant({ status: 'ACTIVE', version: 2, tier: 'starter' });
      ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
      ddb.on(GetCommand).resolves({ Item: stored(existing) });

      const result = await catalog.create(newTenant, { actor: ACTOR, reason: 'onboard' });

      expect(result).to.deep.equal({ tenant: existing, created: false });
      expect(ddb.commandCalls(PutCommand)).to.have.length(1);
      expect(ddb.commandCalls(GetCommand)[0].args[0].input).to.deep.equal(getTenantInput);
    });

    it('passes on any other write failure without reading or auditing', async () => {
      ddb.on(PutCommand).rejects(awsError('ProvisionedThroughputExceededException'));

      let failure: unknown;
      await catalog.create(newTenant, { actor: ACTOR }).catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'ProvisionedThroughputExceededException');
      expect(ddb.calls()).to.have.length(1);
    });
  });

  describe('list', () => {
    const listQuery = {
      TableName: TABLE,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :tenant',
      ExpressionAttributeValues: { ':tenant': 'TENANT' },
      ExclusiveStartKey: undefined,
    };

    it('queries the listing index without a filter and strips storage attributes', async () => {
      ddb.on(QueryCommand).resolves({ Items: [stored(tenant())] });

      expect(await catalog.list()).to.deep.equal([tenant()]);
      expect(ddb.commandCalls(QueryCommand)[0].args[0].input).to.deep.equal(listQuery);
    });

    it('filters on tier and status with attribute names', async () => {
      ddb.on(QueryCommand).resolves({ Items: [] });

      await catalog.list({ tier: 'pro', status: 'ACTIVE' });

      expect(ddb.commandCalls(QueryCommand)[0].args[0].input).to.deep.equal({
        ...listQuery,
        FilterExpression: '#tier = :tier AND #status = :status',
        ExpressionAttributeNames: { '#tier': 'tier', '#status': 'status' },
        ExpressionAttributeValues: { ':tenant': 'TENANT', ':tier': 'pro', ':status': 'ACTIVE' },
      });
    });

    it('filters on status alone', async () => {
      ddb.on(QueryCommand).resolves({ Items: [] });

      await catalog.list({ status: 'SUSPENDED' });

      expect(ddb.commandCalls(QueryCommand)[0].args[0].input).to.deep.equal({
        ...listQuery,
        FilterExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':tenant': 'TENANT', ':status': 'SUSPENDED' },
      });
    });

    it('follows LastEvaluatedKey across pages', async () => {
      const globex = tenant({ tenantId: 'globex', name: 'Globex' });
      const initech = tenant({ tenantId: 'initech', name: 'Initech' });
      const firstKey = { PK: 'TENANT#acme', SK: 'PROFILE', gsi1pk: 'TENANT', gsi1sk: 'acme' };
      const secondKey = { PK: 'TENANT#globex', SK: 'PROFILE', gsi1pk: 'TENANT', gsi1sk: 'globex' };
      ddb
        .on(QueryCommand)
        .resolvesOnce({ Items: [stored(tenant())], LastEvaluatedKey: firstKey })
        .resolvesOnce({ Items: [stored(globex)], LastEvaluatedKey: secondKey })
        .resolvesOnce({ Items: [stored(initech)] });

      const tenants = await catalog.list({ tier: 'pro' });

      expect(tenants).to.deep.equal([tenant(), globex, initech]);
      const starts = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.ExclusiveStartKey);
      expect(starts).to.deep.equal([undefined, firstKey, secondKey]);
    });
  });

  describe('audit', () => {
    it('queries the newest audit items of the tenant first, 20 by default', async () => {
      const record = { ...createAudit(), at: NOW };
      ddb.on(QueryCommand).resolves({ Items: [auditPut(record).Item as Record<string, unknown>] });

      expect(await catalog.audit('acme')).to.deep.equal([record]);
      expect(ddb.commandCalls(QueryCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :audit)',
        ExpressionAttributeValues: { ':pk': 'TENANT#acme', ':audit': 'AUDIT#' },
        ScanIndexForward: false,
        Limit: 20,
      });
    });

    it('passes the requested limit', async () => {
      ddb.on(QueryCommand).resolves({});

      expect(await catalog.audit('acme', 5)).to.deep.equal([]);
      expect(ddb.commandCalls(QueryCommand)[0].args[0].input.Limit).to.equal(5);
    });
  });

  describe('transition', () => {
    it('activates a PROVISIONING tenant with one conditional write and its audit items', async () => {
      const current = tenant();
      ddb.on(GetCommand).resolves({ Item: stored(current) });
      ddb.on(UpdateCommand).resolves({ Attributes: stored(current) });
      ddb.on(PutCommand).resolves({});

      const result = await catalog.transition('acme', 'ACTIVE', {
        actor: ACTOR,
        action: 'activate',
        reason: 'onboarding complete',
      });

      const record: AuditRecord = {
        tenantId: 'acme',
        at: NOW,
        actor: ACTOR,
        reason: 'onboarding complete',
        version: 2,
        action: 'activate',
        fromStatus: 'PROVISIONING',
        toStatus: 'ACTIVE',
      };
      expect(result).to.deep.equal({
        tenant: tenant({ status: 'ACTIVE', statusReason: 'onboarding complete', version: 2, updatedAt: NOW }),
        changed: true,
      });
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(1);
      expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Key: { PK: 'TENANT#acme', SK: 'PROFILE' },
        UpdateExpression: 'SET #f0 = :v0, #f1 = :v1, #f2 = :v2, #f3 = :v3, #f4 = :v4',
        ConditionExpression: '#expected = :expected',
        ExpressionAttributeNames: {
          '#expected': 'version',
          '#f0': 'status',
          '#f1': 'statusReason',
          '#f2': 'updatedAt',
          '#f3': 'version',
          '#f4': 'lastChange',
        },
        ExpressionAttributeValues: {
          ':expected': 1,
          ':v0': 'ACTIVE',
          ':v1': 'onboarding complete',
          ':v2': NOW,
          ':v3': 2,
          ':v4': record,
        },
        ReturnValues: 'ALL_OLD',
      });
      // The previous change's audit item is rewritten (in case a crash lost it), then this one's.
      const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
      expect(puts).to.deep.equal([auditPut(createAudit()), auditPut(record)]);
      expect((puts[1].Item as Record<string, unknown>).SK).to.equal(`AUDIT#${NOW}#00000002`);
    });

    it('removes the previous statusReason when no reason is given', async () => {
      const current = tenant({ status: 'SUSPENDED', version: 3 });
      ddb.on(GetCommand).resolves({ Item: stored(current) });
      ddb.on(UpdateCommand).resolves({ Attributes: stored(current) });
      ddb.on(PutCommand).resolves({});

      const result = await catalog.transition('acme', 'ACTIVE', { actor: ACTOR, action: 'resume' });

      const input = ddb.commandCalls(UpdateCommand)[0].args[0].input;
      expect(input.UpdateExpression).to.equal('SET #f0 = :v0, #f1 = :v1, #f2 = :v2, #f3 = :v3 REMOVE #r0');
      expect(input.ExpressionAttributeNames).to.deep.equal({
        '#expected': 'version',
        '#f0': 'status',
        '#f1': 'updatedAt',
        '#f2': 'version',
        '#f3': 'lastChange',
        '#r0': 'statusReason',
      });
      expect(input.ExpressionAttributeValues?.[':v3']).to.deep.equal({
        tenantId: 'acme',
        at: NOW,
        actor: ACTOR,
        version: 4,
        action: 'resume',
        fromStatus: 'SUSPENDED',
        toStatus: 'ACTIVE',
      });
      expect(result.tenant).not.to.have.property('statusReason');
    });

    it('rewrites only its own audit item when the old record carried no lastChange', async () => {
      const current = tenant({ status: 'ACTIVE', version: 2 });
      ddb.on(GetCommand).resolves({ Item: stored(current, null) });
      ddb.on(UpdateCommand).resolves({ Attributes: stored(current, null) });
      ddb.on(PutCommand).resolves({});

      await catalog.transition('acme', 'SUSPENDED', {
        actor: ACTOR,
        action: 'suspend',
        reason: 'nonpayment',
      });

      const puts = ddb.commandCalls(PutCommand);
      expect(puts).to.have.length(1);
      expect((puts[0].args[0].input.Item as Record<string, unknown>).SK).to.equal(`AUDIT#${NOW}#00000003`);
    });

    it('writes nothing when the tenant already has the target status', async () => {
      const current = tenant({ status: 'SUSPENDED', version: 4 });
      ddb.on(GetCommand).resolves({ Item: stored(current) });

      const result = await catalog.transition('acme', 'SUSPENDED', { actor: ACTOR, action: 'suspend' });

      expect(result).to.deep.equal({ tenant: current, changed: false });
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
      expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    });

    it('refuses a transition the lifecycle does not allow with exit 4 INVALID_TRANSITION', async () => {
      ddb.on(GetCommand).resolves({ Item: stored(tenant({ status: 'DELETED', version: 7 })) });

      const err = await rejectionOf(catalog.transition('acme', 'ACTIVE', { actor: ACTOR, action: 'resume' }));

      expect(err.code).to.equal('INVALID_TRANSITION');
      expect(err.exitCode).to.equal(4);
      expect(err.message).to.equal(
        'Tenant "acme" is DELETED: resume needs it to be PROVISIONING or SUSPENDED or MIGRATING.',
      );
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
      expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    });

    it('refuses an allowed transition from a status outside `from`, naming the statuses it needs', async () => {
      ddb.on(GetCommand).resolves({ Item: stored(tenant({ status: 'PROVISIONING' })) });

      const err = await rejectionOf(
        catalog.transition('acme', 'ACTIVE', { actor: ACTOR, action: 'resume', from: ['SUSPENDED'] }),
      );

      expect(err.code).to.equal('INVALID_TRANSITION');
      expect(err.exitCode).to.equal(4);
      expect(err.message).to.equal('Tenant "acme" is PROVISIONING: resume needs it to be SUSPENDED.');
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
    });

    it('refuses to move a missing tenant with exit 3', async () => {
      ddb.on(GetCommand).resolves({});

      const err = await rejectionOf(
        catalog.transition('ghost', 'SUSPENDED', { actor: ACTOR, action: 'suspend' }),
      );

      expect(err.code).to.equal('TENANT_NOT_FOUND');
      expect(err.exitCode).to.equal(3);
    });

    it('re-reads and retries on the new version after losing a race', async () => {
      const before = tenant({ status: 'ACTIVE', version: 3 });
      const after = tenant({ status: 'ACTIVE', version: 4, name: 'Acme Inc' });
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: stored(before) })
        .resolvesOnce({ Item: stored(after) });
      ddb
        .on(UpdateCommand)
        .rejectsOnce(awsError('ConditionalCheckFailedException'))
        .resolvesOnce({ Attributes: stored(after) });
      ddb.on(PutCommand).resolves({});

      const result = await catalog.transition('acme', 'SUSPENDED', {
        actor: ACTOR,
        action: 'suspend',
        reason: 'nonpayment',
      });

      expect(result.changed).to.equal(true);
      expect(result.tenant).to.include({ name: 'Acme Inc', status: 'SUSPENDED', version: 5 });
      expect(ddb.commandCalls(GetCommand)).to.have.length(2);
      const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.ExpressionAttributeValues);
      expect(updates.map((v) => v?.[':expected'])).to.deep.equal([3, 4]);
      expect(updates.map((v) => v?.[':v3'])).to.deep.equal([4, 5]);
      // Only the winning attempt leaves audit items.
      const keys = ddb
        .commandCalls(PutCommand)
        .map((c) => (c.args[0].input.Item as Record<string, unknown>).SK);
      expect(keys).to.deep.equal([`AUDIT#${CREATED}#00000001`, `AUDIT#${NOW}#00000005`]);
    });

    it('stops with changed false when the race was lost to the same transition', async () => {
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: stored(tenant({ status: 'ACTIVE', version: 3 })) })
        .resolvesOnce({ Item: stored(tenant({ status: 'SUSPENDED', version: 4 })) });
      ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));

      const result = await catalog.transition('acme', 'SUSPENDED', { actor: ACTOR, action: 'suspend' });

      expect(result.changed).to.equal(false);
      expect(result.tenant.version).to.equal(4);
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(1);
      expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    });

    it('gives up with exit 4 CONCURRENT_CHANGE after six lost races', async () => {
      ddb.on(GetCommand).resolves({ Item: stored(tenant({ status: 'ACTIVE', version: 3 })) });
      ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));

      const err = await rejectionOf(
        catalog.transition('acme', 'SUSPENDED', { actor: ACTOR, action: 'suspend' }),
      );

      expect(err.code).to.equal('CONCURRENT_CHANGE');
      expect(err.exitCode).to.equal(4);
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(6);
      expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    });

    it('passes on a write failure other than a lost race without auditing', async () => {
      ddb.on(GetCommand).resolves({ Item: stored(tenant({ status: 'ACTIVE', version: 3 })) });
      ddb.on(UpdateCommand).rejects(awsError('InternalServerError'));

      let failure: unknown;
      await catalog
        .transition('acme', 'SUSPENDED', { actor: ACTOR, action: 'suspend' })
        .catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'InternalServerError');
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(1);
      expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    });
  });

  describe('update', () => {
    it('writes nothing when every field already has the requested value', async () => {
      const current = tenant({ status: 'ACTIVE', version: 2, planPrice: 199 });
      ddb.on(GetCommand).resolves({ Item: stored(current) });

      const result = await catalog.update('acme', { name: 'Acme Corp', planPrice: 199 }, { actor: ACTOR });

      expect(result).to.deep.equal({ tenant: current, changed: false });
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
      expect(ddb.commandCalls(PutCommand)).to.have.length(0);
    });

    it('writes nothing when no field is given', async () => {
      ddb.on(GetCommand).resolves({ Item: stored(tenant({ status: 'ACTIVE', version: 2 })) });

      expect((await catalog.update('acme', {}, { actor: ACTOR })).changed).to.equal(false);
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
    });

    it('sets only the changed fields and records each change with its old value', async () => {
      const current = tenant({ status: 'ACTIVE', version: 2 });
      ddb.on(GetCommand).resolves({ Item: stored(current) });
      ddb.on(UpdateCommand).resolves({ Attributes: stored(current) });
      ddb.on(PutCommand).resolves({});

      const result = await catalog.update(
        'acme',
        { name: 'Acme Inc', planPrice: 1900 },
        { actor: ACTOR, reason: 'custom contract' },
      );

      const record: AuditRecord = {
        tenantId: 'acme',
        at: NOW,
        actor: ACTOR,
        reason: 'custom contract',
        version: 3,
        action: 'update',
        changes: { name: { from: 'Acme Corp', to: 'Acme Inc' }, planPrice: { from: undefined, to: 1900 } },
      };
      expect(result).to.deep.equal({
        tenant: { ...current, name: 'Acme Inc', planPrice: 1900, version: 3, updatedAt: NOW },
        changed: true,
      });
      expect(ddb.commandCalls(UpdateCommand)[0].args[0].input).to.deep.equal({
        TableName: TABLE,
        Key: { PK: 'TENANT#acme', SK: 'PROFILE' },
        UpdateExpression: 'SET #f0 = :v0, #f1 = :v1, #f2 = :v2, #f3 = :v3, #f4 = :v4',
        ConditionExpression: '#expected = :expected',
        ExpressionAttributeNames: {
          '#expected': 'version',
          '#f0': 'name',
          '#f1': 'planPrice',
          '#f2': 'updatedAt',
          '#f3': 'version',
          '#f4': 'lastChange',
        },
        ExpressionAttributeValues: {
          ':expected': 2,
          ':v0': 'Acme Inc',
          ':v1': 1900,
          ':v2': NOW,
          ':v3': 3,
          ':v4': record,
        },
        ReturnValues: 'ALL_OLD',
      });
      expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input)).to.deep.equal([
        auditPut(createAudit()),
        auditPut(record),
      ]);
    });

    it('writes only the name when the plan price is unchanged', async () => {
      const current = tenant({ status: 'ACTIVE', version: 2, planPrice: 199 });
      ddb.on(GetCommand).resolves({ Item: stored(current) });
      ddb.on(UpdateCommand).resolves({});
      ddb.on(PutCommand).resolves({});

      await catalog.update('acme', { name: 'Acme Inc', planPrice: 199 }, { actor: ACTOR });

      const values = ddb.commandCalls(UpdateCommand)[0].args[0].input.ExpressionAttributeValues ?? {};
      expect(values[':v0']).to.equal('Acme Inc');
      expect(values[':v3'])
        .to.have.property('changes')
        .that.deep.equals({
          name: { from: 'Acme Corp', to: 'Acme Inc' },
        });
    });

    it('refuses to change a DELETED tenant with exit 4', async () => {
      ddb.on(GetCommand).resolves({ Item: stored(tenant({ status: 'DELETED', version: 9 })) });

      const err = await rejectionOf(catalog.update('acme', { name: 'Acme Inc' }, { actor: ACTOR }));

      expect(err.code).to.equal('TENANT_DELETED');
      expect(err.exitCode).to.equal(4);
      expect(ddb.commandCalls(UpdateCommand)).to.have.length(0);
    });

    it('retries on the re-read record after losing a race', async () => {
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: stored(tenant({ status: 'ACTIVE', version: 2 })) })
        .resolvesOnce({ Item: stored(tenant({ status: 'SUSPENDED', version: 3 })) });
      ddb.on(UpdateCommand).rejectsOnce(awsError('ConditionalCheckFailedException')).resolves({});
      ddb.on(PutCommand).resolves({});

      const result = await catalog.update('acme', { name: 'Acme Inc' }, { actor: ACTOR });

      expect(result.tenant).to.include({ status: 'SUSPENDED', version: 4, name: 'Acme Inc' });
      const expected = ddb
        .commandCalls(UpdateCommand)
        .map((c) => c.args[0].input.ExpressionAttributeValues?.[':expected']);
      expect(expected).to.deep.equal([2, 3]);
    });
  });
});
