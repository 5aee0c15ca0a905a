import { ListUsersCommand, ListGroupsCommand } from '@aws-sdk/client-cognito-identity-provider';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { WorkflowProgress } from '../../src/lib/tenants/catalog.js';
import type { AuditRecord, Tenant } from '../../src/lib/tenants/model.js';
import { run, tempHome, type ErrorEnvelope } from '../helpers/cli.js';

const onboard = (id: string, tier: string) => [
  'tenant',
  'onboard',
  id,
  '--tier',
  tier,
  '--name',
  id,
  '--admin-email',
  `admin@${id}.test`,
  '--json',
];

describe('tenant offboard on the embedded stack', function () {
  this.timeout(120_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;
  let clients: ReturnType<typeof localClients>;

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    clients = localClients(owner.info().endpoints, 'us-east-1');
    // acme2 and acme-2 share a prefix with acme: offboarding acme must not touch them.
    for (const [id, tier] of [
      ['acme', 'pro'],
      ['acme2', 'pro'],
      ['acme-2', 'starter'],
      ['bigco', 'enterprise'],
    ]) {
      const result = await run(onboard(id, tier), home);
      expect(result.exitCode, `${id}: ${result.stdout}`).to.equal(0);
    }
    await seedPooled([
      'TENANT#acme',
      'TENANT#acme#1',
      'TENANT#acme#2',
      'TENANT#acme2',
      'TENANT#acme-2',
      'TENANT#acme-2#1',
    ]);
  });
  after(async () => {
    clients.destroy();
    await owner.stop();
    dispose();
  });

  async function seedPooled(partitions: string[]): Promise<void> {
    const table = owner.info().platform.tables.pooled;
    const requests = partitions.flatMap((PK) =>
      [1, 2, 3].map((n) => ({ PutRequest: { Item: { PK, SK: `DOC#${n}`, body: 'x' } } })),
    );
    await clients.documents().send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
  }

  async function pooledPartitions(): Promise<string[]> {
    const { Items } = await clients
      .documents()
      .send(new ScanCommand({ TableName: owner.info().platform.tables.pooled, ProjectionExpression: 'PK' }));
    return [...new Set((Items ?? []).map((i) => String(i.PK)))].sort();
  }

  async function groupNames(): Promise<string[]> {
    const { Groups } = await clients
      .cognito()
      .send(new ListGroupsCommand({ UserPoolId: owner.info().platform.userPool.id }));
    return (Groups ?? []).map((g) => String(g.GroupName)).sort();
  }

  async function userEmails(): Promise<string[]> {
    const { Users } = await clients
      .cognito()
      .send(new ListUsersCommand({ UserPoolId: owner.info().platform.userPool.id }));
    return (Users ?? []).map((u) => String(u.Attributes?.find((a) => a.Name === 'email')?.Value)).sort();
  }

  it('refuses without --yes when not on a terminal, changing nothing', async () => {
    const result = await run(['tenant', 'offboard', 'acme', '--reason', 'contract ended', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('CONFIRMATION_REQUIRED');
    const { tenant } = (await run(['tenant', 'show', 'acme', '--json'], home)).json as { tenant: Tenant };
    expect(tenant.status).to.equal('ACTIVE');
  });

  it('refuses a key deletion window KMS would refuse (7-30 days)', async () => {
    const result = await run(
      [
        'tenant',
        'offboard',
        'bigco',
        '--reason',
        'contract ended',
        '--key-deletion-days',
        '5',
        '--yes',
        '--json',
      ],
      home,
    );
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('INVALID_KEY_DELETION_DAYS');
  });

  it("deletes a pooled tenant's items, users and group, and nothing of tenants that share its prefix", async () => {
    const result = await run(
      ['tenant', 'offboard', 'acme', '--reason', 'contract ended', '--yes', '--json'],
      home,
    );
    expect(result.exitCode, result.stdout).to.equal(0);
    expect((result.json as { tenant: Tenant }).tenant).to.include({
      status: 'DELETED',
      statusReason: 'contract ended',
    });
    expect(await pooledPartitions()).to.deep.equal(['TENANT#acme-2', 'TENANT#acme-2#1', 'TENANT#acme2']);
    expect(await groupNames()).to.not.include('tenant-acme');
    expect(await groupNames()).to.include.members(['tenant-acme2', 'tenant-acme-2', 'tenant-bigco']);
    expect(await userEmails()).to.deep.equal(['admin@acme-2.test', 'admin@acme2.test', 'admin@bigco.test']);
  });

  it('keeps the record as a tombstone with its audit trail', async () => {
    const { tenant, audit } = (await run(['tenant', 'show', 'acme', '--json'], home)).json as {
      tenant: Tenant;
      audit: AuditRecord[];
    };
    expect(tenant.status).to.equal('DELETED');
    expect(audit.map((a) => a.action).slice(0, 4)).to.deep.equal([
      'delete',
      'offboard',
      'activate',
      'create',
    ]);
  });

  it('treats offboarding a DELETED tenant as already done', async () => {
    const result = await run(
      ['tenant', 'offboard', 'acme', '--reason', 'contract ended', '--yes', '--json'],
      home,
    );
    expect(result.exitCode).to.equal(0);
    expect((result.json as { changed: boolean }).changed).to.equal(false);
  });

  it("resumes after a failed step, deleting a silo tenant's table and scheduling its key's deletion", async () => {
    const { tenant: before } = (await run(['tenant', 'show', 'bigco', '--json'], home)).json as {
      tenant: Tenant;
    };
    const previous = process.env.SAASCTL_TEST_FAIL_STEP;
    process.env.SAASCTL_TEST_FAIL_STEP = 'ScheduleKeyDeletion';
    let failed;
    try {
      failed = await run(
        [
          'tenant',
          'offboard',
          'bigco',
          '--reason',
          'contract ended',
          '--key-deletion-days',
          '7',
          '--yes',
          '--json',
        ],
        home,
      );
    } finally {
      if (previous === undefined) delete process.env.SAASCTL_TEST_FAIL_STEP;
      else process.env.SAASCTL_TEST_FAIL_STEP = previous;
    }
    expect(failed.exitCode).to.not.equal(0);
    const status = (await run(['tenant', 'status', 'bigco', '--json'], home)).json as {
      status: string;
      workflow: WorkflowProgress;
    };
    expect(status.status).to.equal('OFFBOARDING');
    expect(status.workflow).to.include({
      workflow: 'offboarding',
      status: 'FAILED',
      step: 'ScheduleKeyDeletion',
    });

    const resumed = await run(
      [
        'tenant',
        'offboard',
        'bigco',
        '--reason',
        'contract ended',
        '--key-deletion-days',
        '7',
        '--yes',
        '--json',
      ],
      home,
    );
    expect(resumed.exitCode, resumed.stdout).to.equal(0);
    const { TableNames } = await clients.dynamodb().send(new ListTablesCommand({}));
    expect(TableNames).to.not.include('local-tenant-bigco');
    const { KeyMetadata } = await clients
      .kms()
      .send(new DescribeKeyCommand({ KeyId: String(before.keyArn) }));
    expect(KeyMetadata?.KeyState).to.equal('PendingDeletion');
    const days = ((KeyMetadata?.DeletionDate?.getTime() ?? 0) - Date.now()) / 86_400_000;
    expect(days).to.be.within(6.9, 7.01);
    expect(await groupNames()).to.not.include('tenant-bigco');
    expect(await userEmails()).to.deep.equal(['admin@acme-2.test', 'admin@acme2.test']);
  });
});
