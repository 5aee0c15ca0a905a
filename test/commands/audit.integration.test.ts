import { DisableKeyRotationCommand, EnableKeyRotationCommand } from '@aws-sdk/client-kms';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';
import pg from 'pg';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { AwsClientFactory } from '../../src/lib/platform/clients.js';
import type { IsolationAuditResult } from '../../src/lib/runtime/audit/index.js';
import type { Tenant } from '../../src/lib/tenants/model.js';
import { type ErrorEnvelope, run, spawnCli, tempHome, onboardTenants } from '../helpers/cli.js';

const STAGE = 'local';
const REGION = 'us-east-1';
const POOLED = `saasctl-${STAGE}-pooled`;

function statuses(result: IsolationAuditResult): Record<string, string> {
  return Object.fromEntries(result.checks.map((c) => [c.id, c.status]));
}

function findingsOf(result: IsolationAuditResult, id: string): string[] {
  return (result.checks.find((c) => c.id === id)?.findings ?? []).map(
    (f) => `${f.subject ?? ''}: ${f.message}`,
  );
}

describe('audit isolation (local stack)', function () {
  this.timeout(180_000);
  const { home, dispose } = tempHome('saasctl-audit-');
  let owner: StackOwner;
  let clients: AwsClientFactory;
  let database: pg.Client;
  let bigco: Tenant;

  /** The audit as CI runs it: a separate process, its exit code and its JSON. */
  async function audit(...args: string[]): Promise<{ exitCode: number; result: IsolationAuditResult }> {
    const outcome = await spawnCli(['audit', 'isolation', ...args, '--json'], home);
    expect(outcome.json, outcome.stderr).to.be.an('object');
    return { exitCode: outcome.exitCode, result: outcome.json as IsolationAuditResult };
  }

  before(async () => {
    owner = await startStack({ home, stage: STAGE, region: REGION });
    // PostgreSQL is on demand: started here so the test can break the schema as its owner.
    const { endpoints } = await owner.ensure(['postgres']);
    clients = localClients(endpoints, REGION);
    database = new pg.Client({ connectionString: endpoints.postgres });
    await database.connect();
    await onboardTenants(home, [
      ['acme', 'pro'],
      ['bigco', 'enterprise'],
    ]);
    bigco = ((await run(['tenant', 'show', 'bigco', '--json'], home)).json as { tenant: Tenant }).tenant;
    await clients
      .documents()
      .send(new PutCommand({ TableName: POOLED, Item: { PK: 'TENANT#acme', SK: 'DOC#1' } }));
    await clients
      .documents()
      .send(new PutCommand({ TableName: POOLED, Item: { PK: 'TENANT#acme#3', SK: 'DOC#2' } }));
  });

  after(async () => {
    await database?.end();
    clients?.destroy();
    await owner?.stop();
    dispose();
  });

  it('passes every check on a freshly onboarded pool and silo tenant (exit 0)', async () => {
    const { exitCode, result } = await audit();
    expect(exitCode, JSON.stringify(result.checks.flatMap((c) => c.findings))).to.equal(0);
    expect(result).to.deep.include({ passed: true, target: 'local', stage: STAGE });
    expect(statuses(result)).to.deep.equal({
      'pooled-keys': 'pass',
      'postgres-rls': 'pass',
      'session-policies': 'pass',
      'silo-keys': 'pass',
    });
    const [pooled, postgres, policies, keys] = result.checks;
    expect(pooled.details).to.deep.include({ method: 'scan', items: 2, partitions: 2, offending: 0 });
    expect(postgres.details?.tables.map((t) => [t.name, t.rlsEnabled, t.rlsForced])).to.deep.equal([
      ['folders', true, true],
      ['notes', true, true],
    ]);
    expect(policies.details?.policies.map((p) => p.tier)).to.include.members(['pro', 'enterprise']);
    expect(keys.details?.keys).to.have.length(1);
    expect(keys.details?.keys[0]).to.include({
      tenantId: 'bigco',
      keyState: 'Enabled',
      rotationEnabled: true,
    });
  });

  it('audits one tenant with --tenant: its partition, its key and its own policy', async () => {
    const { exitCode, result } = await audit('--tenant', 'bigco');
    expect(exitCode).to.equal(0);
    expect(result.tenantId).to.equal('bigco');
    const [pooled, , policies, keys] = result.checks;
    expect(pooled.details).to.include({ method: 'query', items: 0 });
    const own = policies.details?.policies.find((p) => p.subject === 'tenant');
    expect(own?.holders).to.deep.equal(['bigco']);
    expect(own?.policy.Statement[0].Resource).to.equal(
      `arn:aws:dynamodb:${REGION}:000000000000:table/${bigco.dataTable}`,
    );
    expect(keys.details?.keys.map((k) => k.tenantId)).to.deep.equal(['bigco']);
  });

  it('goes red (exit 1) on a pooled key that is not a tenant partition, or of no tenant, naming it', async () => {
    const db = clients.documents();
    const foreign = [
      { PK: 'TENANTacme', SK: 'DOC#9' },
      { PK: 'TENANT#nosuch', SK: 'DOC#9' },
    ];
    for (const Item of foreign) await db.send(new PutCommand({ TableName: POOLED, Item }));
    try {
      const { exitCode, result } = await audit();
      expect(exitCode).to.equal(1);
      expect(result.passed).to.equal(false);
      expect(statuses(result)).to.include({ 'pooled-keys': 'fail', 'postgres-rls': 'pass' });
      expect(result.checks[0].details?.byProblem).to.deep.equal({
        'not-tenant-prefixed': 1,
        'invalid-tenant-id': 0,
        'unknown-tenant': 1,
      });
      expect(findingsOf(result, 'pooled-keys').join('\n'))
        .to.contain('PK=TENANTacme SK=DOC#9')
        .and.to.contain(
          'PK=TENANT#nosuch SK=DOC#9: The partition key names a tenant that is not in the catalog.',
        );
    } finally {
      for (const Key of foreign) await db.send(new DeleteCommand({ TableName: POOLED, Key }));
    }
  });

  it('goes red when RLS is not forced on a table or a view runs with its owner rights', async () => {
    await database.query('ALTER TABLE app.notes NO FORCE ROW LEVEL SECURITY');
    await database.query('CREATE VIEW app.all_notes AS SELECT * FROM app.notes');
    await database.query(
      'CREATE VIEW app.my_notes WITH (security_invoker = true) AS SELECT * FROM app.notes',
    );
    try {
      const { exitCode, result } = await audit();
      expect(exitCode).to.equal(1);
      expect(statuses(result)).to.include({ 'postgres-rls': 'fail', 'pooled-keys': 'pass' });
      expect(findingsOf(result, 'postgres-rls')).to.deep.equal([
        "app.notes: Row-level security is not forced: the table's owner bypasses it.",
        "app.all_notes: The view runs with its owner's rights (no security_invoker=true): it bypasses the caller's RLS.",
      ]);
    } finally {
      await database.query('DROP VIEW app.all_notes, app.my_notes');
      await database.query('ALTER TABLE app.notes FORCE ROW LEVEL SECURITY');
    }
  });

  it("accepts a suspended tenant's key disabled by the kill switch", async () => {
    const steps = [
      ['tenant', 'suspend', 'bigco', '--reason', 'audit test'],
      ['key', 'disable', 'bigco', '--reason', 'audit test', '--yes'],
    ];
    for (const step of steps) expect((await run(step, home)).exitCode, step.join(' ')).to.equal(0);
    try {
      const { exitCode, result } = await audit();
      expect(exitCode).to.equal(0);
      expect(result.checks[3].details?.keys[0]).to.include({
        keyState: 'Disabled',
        verdict: 'expected-disabled',
      });
    } finally {
      expect((await run(['key', 'enable', 'bigco', '--reason', 'audit test'], home)).exitCode).to.equal(0);
      expect((await run(['tenant', 'resume', 'bigco', '--reason', 'audit test'], home)).exitCode).to.equal(0);
    }
  });

  it("goes red when a silo tenant's key stops rotating", async () => {
    const kms = clients.kms();
    await kms.send(new DisableKeyRotationCommand({ KeyId: bigco.keyArn }));
    try {
      const { exitCode, result } = await audit();
      expect(exitCode).to.equal(1);
      expect(statuses(result)).to.include({ 'silo-keys': 'fail' });
      expect(findingsOf(result, 'silo-keys')).to.deep.equal([
        `tenant bigco (${bigco.keyArn}): Automatic key rotation is off.`,
      ]);
    } finally {
      await kms.send(new EnableKeyRotationCommand({ KeyId: bigco.keyArn }));
    }
  });

  it('prints a Markdown report for a reviewer with --format md', async () => {
    const outcome = await run(['audit', 'isolation', '--format', 'md'], home);
    expect(outcome.exitCode, outcome.stderr).to.equal(0);
    for (const heading of [
      '# Tenant isolation audit',
      '## Summary',
      '## 1. Pooled table keys are tenant-prefixed',
      '## 2. PostgreSQL row-level security (pooled schema)',
      '## 3. Session policies isolate tenants',
      '### Tier `enterprise`',
      "## 4. Silo tenants' keys are enabled and rotate",
      '```json',
    ]) {
      expect(outcome.stdout).to.contain(heading);
    }
    expect(outcome.stdout).to.contain('- Result: **PASS**');
  });

  it('refuses a bad --tenant (exit 2) and an unknown one (exit 3) without running a check', async () => {
    const bad = await spawnCli(['audit', 'isolation', '--tenant', 'Acme!', '--json'], home);
    expect(bad.exitCode).to.equal(2);
    expect((bad.json as ErrorEnvelope).error.code).to.equal('INVALID_TENANT_ID');
    const missing = await spawnCli(['audit', 'isolation', '--tenant', 'nobody', '--json'], home);
    expect(missing.exitCode).to.equal(3);
    expect((missing.json as ErrorEnvelope).error.code).to.equal('TENANT_NOT_FOUND');
    expect(missing.stdout).to.not.contain('checks');
  });
});
