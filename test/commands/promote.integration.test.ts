import { DescribeTableCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { AwsClientFactory } from '../../src/lib/platform/clients.js';
import { freshCursors, parallelScan } from '../../src/lib/tenants/migration-copy.js';
import { digestOf, itemKey, keyId, type Item } from '../../src/lib/tenants/migration-digest.js';
import { MigrationStore, type MigrationState } from '../../src/lib/tenants/migration-state.js';
import type { AuditRecord, Tenant } from '../../src/lib/tenants/model.js';
import type { MigrationResult } from '../../src/lib/tenants/promote.js';
import { syntheticItem } from '../../src/lib/tenants/seed.js';
import { TenantDataWriter, WRITER_DEADLINE_MS } from '../../src/lib/tenants/tenant-data.js';
import { run, spawnCli, tempHome, type CommandOutcome, type ErrorEnvelope } from '../helpers/cli.js';

/**
 * Promote and demote on the embedded stack, as the issue asks: a 20,000-item tenant beside
 * other tenants; every item equal on both sides; the others untouched; killed at every step and
 * resumed to the same result; writes made during the copy kept; a corrupted copy caught by
 * verify. On dynalite a 20,000-item promotion takes ~20 s here (a shared 2-core machine), and a
 * run killed at every step reads both sides again on each resume in and after the freeze, so the
 * kill-at-every-step tenant has 5,000 items and the corruption and demote cases 2,000: all of it
 * with 20,000 took about 3 minutes. The 20,000-item promotion is the uninterrupted one.
 */

const STAGE = 'local';
const REGION = 'us-east-1';
const BIG = 20_000;
/** The tenant killed at every step: smaller, as each resume reads both sides again (see above). */
const CRASHY = 5_000;
const ITEM_BYTES = 256;

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

function ok(outcome: CommandOutcome, what: string): unknown {
  expect(outcome.exitCode, `${what}: ${outcome.stdout}\n${outcome.stderr}`).to.equal(0);
  return outcome.json;
}

const errorOf = (outcome: CommandOutcome) =>
  (outcome.json as ErrorEnvelope & { error: { details?: unknown } }).error;

/** The items generation `revision` of `tenant seed` writes for indexes [from, from + count). */
function seeded(tenantId: string, from: number, count: number, revision = 1): Map<string, Item> {
  const items = new Map<string, Item>();
  for (let i = from; i < from + count; i++) {
    const item = syntheticItem(tenantId, i, revision, ITEM_BYTES);
    items.set(keyId(itemKey(item)), item);
  }
  return items;
}

describe('tenant promote and demote on the embedded stack', function () {
  this.timeout(180_000);
  const { home, dispose } = tempHome('saasctl-promote-');
  let owner: StackOwner;
  let clients: AwsClientFactory;
  let tables: { pooled: string; controlPlane: string };
  const neighbours = new Map<string, string>();

  before(async () => {
    owner = await startStack({ home, stage: STAGE, region: REGION });
    clients = localClients(owner.info().endpoints, REGION);
    tables = owner.info().platform.tables;
    for (const [id, tier] of [
      ['big', 'pro'],
      ['crashy', 'pro'],
      ['broken', 'starter'],
      // Shares big's prefix: the copy and the cleanup must not take it for big's.
      ['big2', 'pro'],
      ['small', 'starter'],
    ]) {
      ok(await run(onboard(id, tier), home), `onboard ${id}`);
    }
    // big is seeded by its own test, the last: until then every scan of the pooled table is short.
    for (const [id, items] of [
      ['crashy', CRASHY],
      ['broken', 2000],
      ['big2', 1500],
      ['small', 1500],
    ] as const) {
      ok(await run(['tenant', 'seed', id, '--items', String(items), '--json'], home), `seed ${id}`);
    }
    for (const id of ['big2', 'small']) neighbours.set(id, digestOf(await items(tables.pooled, id)).digest);
  });

  after(async () => {
    clients?.destroy();
    await owner?.stop();
    dispose();
  });

  async function items(table: string, tenantId: string): Promise<Item[]> {
    const found: Item[] = [];
    await parallelScan({ client: clients.dynamodb(), table }, tenantId, freshCursors(2), async (_s, page) => {
      found.push(...page);
    });
    return found;
  }

  async function tableExists(table: string): Promise<boolean> {
    try {
      await clients.dynamodb().send(new DescribeTableCommand({ TableName: table }));
      return true;
    } catch (err) {
      if ((err as Error).name === 'ResourceNotFoundException') return false;
      throw err;
    }
  }

  async function migration(tenantId: string): Promise<MigrationState | undefined> {
    return new MigrationStore(clients.documents(), tables.controlPlane).get(tenantId);
  }

  async function show(tenantId: string): Promise<{ tenant: Tenant; audit: AuditRecord[] }> {
    return ok(await run(['tenant', 'show', tenantId, '--audit-limit', '50', '--json'], home), 'show') as {
      tenant: Tenant;
      audit: AuditRecord[];
    };
  }

  function writer(): TenantDataWriter {
    return new TenantDataWriter({
      documents: clients.documents(),
      controlPlaneTable: tables.controlPlane,
      pooledTable: tables.pooled,
      dataClient: () => clients.dynamodb(),
      deadlineMs: WRITER_DEADLINE_MS.local,
    });
  }

  /** Updates, inserts and deletes through the data writer; applies the same to `expected`. */
  async function writeDuringCopy(tenantId: string, expected: Map<string, Item>): Promise<number> {
    const w = writer();
    const updated = [...Array(40).keys()].map((i) => syntheticItem(tenantId, i * 97, 2, ITEM_BYTES));
    const inserted = [...Array(30).keys()].map((i) => syntheticItem(tenantId, BIG + i, 1, ITEM_BYTES));
    const deleted = [...Array(20).keys()].map((i) =>
      itemKey(syntheticItem(tenantId, 5 + i * 113, 1, ITEM_BYTES)),
    );
    let journaled = 0;
    journaled += (await w.put(tenantId, [...updated, ...inserted])).journaled;
    journaled += (await w.delete(tenantId, deleted)).journaled;
    for (const item of [...updated, ...inserted]) expected.set(keyId(itemKey(item)), item);
    for (const key of deleted) expected.delete(keyId(key));
    return journaled;
  }

  /** Runs the CLI as its own process with SAASCTL_TEST_CRASH_AT set, and expects it killed. */
  async function killedAt(point: string, args: string[]): Promise<void> {
    const previous = process.env.SAASCTL_TEST_CRASH_AT;
    process.env.SAASCTL_TEST_CRASH_AT = point;
    try {
      const outcome = await spawnCli([...args, '--yes', '--json'], home);
      expect(outcome.exitCode, `killed at ${point}: ${outcome.stderr}`).to.not.equal(0);
      expect(outcome.stdout, 'a killed run prints no result').to.equal('');
    } finally {
      if (previous === undefined) delete process.env.SAASCTL_TEST_CRASH_AT;
      else process.env.SAASCTL_TEST_CRASH_AT = previous;
    }
  }

  async function expectOthersUntouched(): Promise<void> {
    for (const [id, digest] of neighbours) {
      expect(digestOf(await items(tables.pooled, id)).digest, `${id} untouched`).to.equal(digest);
    }
  }

  it('plans with --dry-run and writes nothing; refuses without --yes off a terminal; refuses a pool tier', async () => {
    const planned = ok(
      await run(['tenant', 'promote', 'crashy', '--to', 'enterprise', '--dry-run', '--json'], home),
      'dry run',
    ) as MigrationResult;
    expect(planned).to.deep.include({ outcome: 'planned', changed: false });
    expect(planned.plan).to.deep.include({
      items: CRASHY,
      partitions: 4,
      provision: ['CreateTenantKey', 'CreateTenantTable'],
    });
    expect(planned.plan?.bytes).to.be.within(CRASHY * ITEM_BYTES * 0.95, CRASHY * ITEM_BYTES * 1.05);
    expect(planned.plan?.to).to.deep.include({ table: 'local-tenant-crashy', isolation: 'silo' });

    const refused = await run(['tenant', 'promote', 'crashy', '--to', 'enterprise', '--json'], home);
    expect(refused.exitCode).to.equal(2);
    expect(errorOf(refused).code).to.equal('CONFIRMATION_REQUIRED');

    const wrongTier = await run(['tenant', 'promote', 'crashy', '--to', 'starter', '--yes', '--json'], home);
    expect(wrongTier.exitCode).to.equal(2);
    expect(errorOf(wrongTier).code).to.equal('INVALID_TARGET_TIER');

    expect(await migration('crashy')).to.equal(undefined);
    expect(await tableExists('local-tenant-crashy')).to.equal(false);
    expect((await show('crashy')).tenant).to.include({ tier: 'pro', status: 'ACTIVE', version: 2 });
  });

  it('killed at every step and resumed, promotes a 5,000-item tenant to the same result, keeping writes made while it was down', async () => {
    const expected = seeded('crashy', 0, CRASHY);
    const crashAt = async (point: string, args: string[]) => {
      await killedAt(point, ['tenant', 'promote', 'crashy', ...args]);
      return { state: await migration('crashy'), tenant: (await show('crashy')).tenant };
    };

    let seen = await crashAt('provision', ['--to', 'enterprise']);
    expect(seen.state?.phase).to.equal('PROVISIONED');
    expect(seen.tenant).to.include({ tier: 'pro', status: 'ACTIVE' });
    expect(await tableExists('local-tenant-crashy')).to.equal(true);

    seen = await crashAt('copy', ['--resume']);
    expect(seen.state?.phase).to.equal('COPYING');
    const copied = seen.state?.segments.reduce((n, s) => n + s.items, 0) ?? 0;
    expect(copied, 'part of the copy checkpointed').to.be.within(1, CRASHY - 1);
    // Writes while the run is down, mid-copy: the journal is on.
    expect(await writeDuringCopy('crashy', expected)).to.equal(90);

    seen = await crashAt('copied', ['--resume']);
    expect(seen.state?.phase).to.equal('COPIED');
    expect(seen.state?.segments.every((s) => s.done)).to.equal(true);

    seen = await crashAt('freeze', ['--resume']);
    expect(seen.tenant.status).to.equal('MIGRATING');
    // The freeze refuses writes with a retryable error.
    const refused = await run(['tenant', 'seed', 'crashy', '--items', '1', '--json'], home);
    expect(refused.exitCode).to.equal(4);
    expect(errorOf(refused)).to.deep.include({
      code: 'TENANT_MIGRATING',
      details: { retryable: true, retryAfterSeconds: 5 },
    });

    seen = await crashAt('verify', ['--resume']);
    expect(seen.tenant.status).to.equal('MIGRATING');
    expect(seen.state?.verify?.equal).to.equal(true);

    seen = await crashAt('cutover', ['--resume']);
    expect(seen.tenant).to.include({ tier: 'enterprise', isolation: 'silo', status: 'ACTIVE' });
    expect(seen.state?.phase).to.equal('FROZEN');

    const finished = ok(
      await run(['tenant', 'promote', 'crashy', '--to', 'enterprise', '--yes', '--json'], home),
      'final run',
    ) as MigrationResult;
    expect(finished).to.deep.include({ outcome: 'migrated', phase: 'CUT_OVER', resumedFrom: 'FROZEN' });
    expect(finished.cleanup).to.include({ status: 'scheduled' });

    const silo = await items('local-tenant-crashy', 'crashy');
    expect(digestOf(silo)).to.deep.equal(digestOf(expected.values()));
    expect(finished.digests?.source).to.equal(digestOf(silo).digest);
    expect(digestOf(await items(tables.pooled, 'crashy')), 'pooled copy kept until cleanup').to.deep.equal(
      digestOf(silo),
    );
    await expectOthersUntouched();
    const actions = (await show('crashy')).audit.map((a) => a.action);
    expect(actions.filter((a) => a === 'promote')).to.have.length(1);
    expect(actions.filter((a) => a === 'promote-freeze')).to.have.length(1);

    // Before the grace period ends, the same command changes nothing.
    const again = ok(
      await run(['tenant', 'promote', 'crashy', '--to', 'enterprise', '--yes', '--json'], home),
      'again',
    );
    expect(again).to.deep.include({ outcome: 'cleanup-scheduled', changed: false });
  });

  it('aborts before cutover when verify finds a corrupted copy, leaving the tenant pooled and ACTIVE; a re-run starts over', async () => {
    const original = digestOf(await items(tables.pooled, 'broken'));
    await killedAt('copied', ['tenant', 'promote', 'broken', '--to', 'enterprise']);
    expect((await migration('broken'))?.phase).to.equal('COPIED');
    await clients.dynamodb().send(
      new UpdateItemCommand({
        TableName: 'local-tenant-broken',
        Key: { PK: { S: 'TENANT#broken#3' }, SK: { S: 'ITEM#00000007' } },
        UpdateExpression: 'SET payload = :bad',
        ExpressionAttributeValues: { ':bad': { S: 'corrupted' } },
      }),
    );

    const aborted = await run(['tenant', 'promote', 'broken', '--resume', '--yes', '--json'], home);
    expect(aborted.exitCode).to.equal(5);
    const error = errorOf(aborted) as { code: string; details?: { report: Record<string, unknown> } };
    expect(error.code).to.equal('MIGRATION_VERIFY_FAILED');
    expect(error.details?.report).to.deep.include({
      equal: false,
      differenceCount: 1,
      differences: [{ PK: 'TENANT#broken#3', SK: 'ITEM#00000007', kind: 'differs' }],
    });
    expect((await show('broken')).tenant).to.include({
      tier: 'starter',
      isolation: 'pool',
      status: 'ACTIVE',
    });
    expect((await migration('broken'))?.phase).to.equal('ABORTED');
    expect(digestOf(await items(tables.pooled, 'broken'))).to.deep.equal(original);
    ok(await run(['tenant', 'seed', 'broken', '--items', '1', '--json'], home), 'writable after the abort');

    const retried = ok(
      await run(['tenant', 'promote', 'broken', '--to', 'enterprise', '--yes', '--json'], home),
      'retry',
    ) as MigrationResult;
    expect(retried.counts).to.include({ cleared: 2000, sourceItems: 2000, targetItems: 2000 });
    expect(digestOf(await items('local-tenant-broken', 'broken'))).to.deep.equal(original);
    await expectOthersUntouched();
  });

  it('demotes back to a pool tier, superseding the pending cleanup; killed in the cleanup, a re-run deletes the silo table and schedules its key', async () => {
    const before = await items('local-tenant-broken', 'broken');
    await killedAt('cleanup', ['tenant', 'demote', 'broken', '--to', 'pro', '--cleanup-now']);
    expect((await migration('broken'))?.phase).to.equal('CUT_OVER');
    expect((await show('broken')).tenant).to.include({ tier: 'pro', isolation: 'pool', status: 'ACTIVE' });

    const result = ok(
      await run(['tenant', 'demote', 'broken', '--resume', '--cleanup-now', '--yes', '--json'], home),
      'cleanup',
    ) as MigrationResult;
    expect(result).to.deep.include({ outcome: 'cleaned-up', phase: 'DONE' });
    expect(result.tenant).to.include({ tier: 'pro', isolation: 'pool', status: 'ACTIVE' });
    expect(result.tenant).to.not.have.property('dataTable');
    expect(result.tenant).to.not.have.property('keyArn');
    // The stale pooled copies of the promotion were cleared before the copy.
    expect(result.counts?.cleared).to.equal(2000);
    expect(digestOf(await items(tables.pooled, 'broken'))).to.deep.equal(digestOf(before));
    expect(await tableExists('local-tenant-broken')).to.equal(false);
    const { KeyMetadata } = await clients
      .kms()
      .send(new DescribeKeyCommand({ KeyId: 'alias/saasctl/local/tenant/broken' }));
    expect(KeyMetadata?.KeyState).to.equal('PendingDeletion');
    const actions = (await show('broken')).audit.map((a) => a.action);
    expect(actions.slice(0, 3)).to.deep.equal(['demote-cleanup', 'demote', 'demote-freeze']);
    await expectOthersUntouched();
  });
  it('promotes a 20,000-item tenant: every item equal on both sides, writes made during the copy kept, others untouched', async () => {
    ok(await run(['tenant', 'seed', 'big', '--items', String(BIG), '--json'], home), 'seed big');
    const expected = seeded('big', 0, BIG);
    // Its own process, as an operator runs it; this process writes while it copies.
    const promotion = spawnCli(['tenant', 'promote', 'big', '--to', 'enterprise', '--yes', '--json'], home);
    let journaled = 0;
    for (;;) {
      const state = await migration('big');
      if (state?.phase === 'COPYING') {
        journaled = await writeDuringCopy('big', expected);
        break;
      }
      if (state && state.phase !== 'STARTED' && state.phase !== 'PROVISIONED') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = ok(await promotion, 'promote') as MigrationResult;
    expect(journaled, 'writes made while the copy ran, journaled').to.equal(90);

    expect(result).to.deep.include({ outcome: 'migrated', changed: true, phase: 'CUT_OVER' });
    expect(result.tenant).to.include({
      tier: 'enterprise',
      isolation: 'silo',
      status: 'ACTIVE',
      dataTable: 'local-tenant-big',
    });
    expect(result.counts).to.include({ sourceItems: expected.size, targetItems: expected.size });
    expect(result.counts?.replayed).to.be.at.least(90);
    expect(result.digests?.source).to.equal(result.digests?.target);
    expect(result.timings?.freezeMs).to.be.below(10_000);
    expect(result.cleanup).to.include({ status: 'scheduled' });

    const silo = await items('local-tenant-big', 'big');
    const pooled = await items(tables.pooled, 'big');
    expect(digestOf(silo)).to.deep.equal(digestOf(expected.values()));
    // The pooled copy stays through the grace period, equal to the silo copy.
    expect(digestOf(pooled)).to.deep.equal(digestOf(silo));
    expect(result.digests?.source).to.equal(digestOf(silo).digest);
    await expectOthersUntouched();

    const { audit } = await show('big');
    expect(audit.map((a) => a.action).slice(0, 4)).to.deep.equal([
      'promote',
      'promote-freeze',
      'attach-table',
      'attach-key',
    ]);
    expect(audit[0]).to.deep.include({ fromStatus: 'MIGRATING', toStatus: 'ACTIVE' });
    expect(audit[0].changes).to.deep.equal({
      tier: { from: 'pro', to: 'enterprise' },
      isolation: { from: 'pool', to: 'silo' },
    });

    // Writes now go to the silo, unjournaled.
    const after = ok(
      await run(['tenant', 'seed', 'big', '--items', '5', '--from', '50000', '--json'], home),
      'seed',
    );
    expect(after).to.include({ table: 'local-tenant-big', journaled: 0 });
  });
});
