import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import {
  marketplaceControl,
  type MarketplaceControl,
} from '../../src/lib/local/emulators/marketplace-control.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { AwsClientFactory } from '../../src/lib/platform/clients.js';
import type { LedgerReport } from '../../src/lib/metering/billing.js';
import { UsageCounters } from '../../src/lib/metering/counters.js';
import { UsageEmitter } from '../../src/lib/metering/emitter.js';
import { MarketplaceLedger, type LedgerRecord } from '../../src/lib/metering/ledger.js';
import { billableUnits } from '../../src/lib/metering/marketplace.js';
import type { PushResult } from '../../src/lib/metering/push.js';
import { TenantCatalog } from '../../src/lib/tenants/catalog.js';
import type { Tenant } from '../../src/lib/tenants/model.js';
import { DEFAULT_DIMENSIONS } from '../../src/lib/tenants/tiers.js';
import { run, spawnCli, tempHome, type CommandOutcome, type ErrorEnvelope } from '../helpers/cli.js';

const HOUR = 3_600_000;
const DIMENSION_OF = new Map(DEFAULT_DIMENSIONS.map((d) => [d.metric, d.dimension]));

function hourKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13);
}

function accountOf(n: number): string {
  return String(300_000_000_000 + n);
}

function licenseOf(n: number): string {
  return `arn:aws:license-manager::${accountOf(n)}:license:l-${n.toString(16).padStart(32, '0')}`;
}

describe('metering push on the embedded stack', function () {
  this.timeout(180_000);
  const { home, dispose } = tempHome();
  // Every hour used here is after SINCE, so a push that runs after the clock turns an hour still reads it.
  const started = Date.now();
  const currentHourStart = Math.floor(started / HOUR) * HOUR;
  const SINCE = new Date(currentHourStart - 30 * HOUR).toISOString();
  let owner: StackOwner;
  let clients: AwsClientFactory;
  let control: MarketplaceControl;
  let counters: UsageCounters;
  let catalog: TenantCatalog;
  let ledger: MarketplaceLedger;
  let next = 0;
  /** Tenant id -> its buyer account, for every subscribed tenant seeded so far. */
  const accounts = new Map<string, string>();

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    const info = owner.info();
    clients = localClients(info.endpoints, 'us-east-1');
    control = marketplaceControl(info.endpoints.marketplace as string);
    counters = new UsageCounters(clients.documents(), info.platform.tables.usage);
    catalog = new TenantCatalog(clients.documents(), info.platform.tables.controlPlane);
    ledger = new MarketplaceLedger(clients.documents(), info.platform.tables.ledger);
  });
  after(async () => {
    clients.destroy();
    await owner.stop();
    dispose();
  });

  /** Tenants on the pro tier, each its own Marketplace buyer, registered with the emulator. */
  async function seedTenants(prefix: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = next++;
      const tenantId = `${prefix}-${String(i).padStart(3, '0')}`;
      await catalog.create(
        {
          tenantId,
          name: tenantId,
          tier: 'pro',
          isolation: 'pool',
          region: 'us-east-1',
          adminEmail: `ops@${tenantId}.test`,
          marketplaceAccountId: accountOf(n),
          licenseArn: licenseOf(n),
        },
        { actor: 'test' },
      );
      await control.registerSubscription({ CustomerAWSAccountId: accountOf(n), LicenseArn: licenseOf(n) });
      accounts.set(tenantId, accountOf(n));
      ids.push(tenantId);
    }
    return ids;
  }

  /**
   * Usage hour by hour up to the last closed hour, every metric (storage.gb fractional): a day by
   * default; 8 hours still reach past the 6-hour window, for the groups that only need that.
   */
  async function seedUsage(tenantIds: readonly string[], hours = 24): Promise<void> {
    const writes: (() => Promise<unknown>)[] = [];
    tenantIds.forEach((tenantId, t) => {
      for (let h = 1; h <= hours; h++) {
        const hour = hourKey(currentHourStart - h * HOUR);
        const batch = `seed-${tenantId}`;
        writes.push(
          () =>
            counters.apply(
              { tenantId, metric: 'api.call', hour, quantity: 10 + ((t * 7 + h) % 50), aggregation: 'sum' },
              batch,
            ),
          () =>
            counters.apply(
              { tenantId, metric: 'doc.processed', hour, quantity: (t + h) % 4, aggregation: 'sum' },
              batch,
            ),
          () =>
            counters.apply(
              { tenantId, metric: 'storage.gb', hour, quantity: 1.25 + t / 4, aggregation: 'max' },
              batch,
            ),
        );
      }
    });
    // 32 at a time: dynalite shares the two cores with the CLI under test.
    for (let i = 0; i < writes.length; i += 32)
      await Promise.all(writes.slice(i, i + 32).map((write) => write()));
  }

  async function allCounters(): Promise<
    { tenantId: string; metric: string; hour: string; quantity: number }[]
  > {
    return counters.list({ from: hourKey(Date.parse(SINCE)), to: hourKey(Date.now()) });
  }

  /**
   * The heart of it: for every subscribed tenant and dimension, the units the emulator accepted
   * equal the billable units of the counters, and the ledger agrees with the emulator.
   */
  async function expectExactlyBilled(): Promise<void> {
    const tenantOf = new Map([...accounts].map(([tenantId, account]) => [account, tenantId]));
    const accepted = await control.accepted();
    const billed = new Map<string, number>();
    for (const r of accepted) {
      const key = `${tenantOf.get(r.customerAwsAccountId ?? '')}/${r.dimension}`;
      billed.set(key, (billed.get(key) ?? 0) + r.quantity);
    }
    const owed = new Map<string, number>();
    for (const c of await allCounters()) {
      if (!accounts.has(c.tenantId)) continue;
      const key = `${c.tenantId}/${DIMENSION_OF.get(c.metric)}`;
      owed.set(key, (owed.get(key) ?? 0) + billableUnits(c.quantity));
    }
    for (const [key, units] of owed) if (units === 0) owed.delete(key);
    expect(Object.fromEntries([...billed].sort())).to.deep.equal(Object.fromEntries([...owed].sort()));

    const records = await ledger.list({ from: '0000-01-01T00', to: '9999-12-31T23' });
    const states = new Set(records.map((r) => r.state));
    expect([...states].filter((s) => s !== 'ACCEPTED' && s !== 'REJECTED')).to.deep.equal([]);
    const ledgerAccepted = records.filter((r) => r.state === 'ACCEPTED').reduce((n, r) => n + r.quantity, 0);
    expect(ledgerAccepted).to.equal(accepted.reduce((n, r) => n + r.quantity, 0));
  }

  /** A push in this process (faster); for exit codes other than 0 and 2, and for kills, see spawnPush. */
  function push(args: string[] = []): Promise<CommandOutcome> {
    return run(['metering', 'push', '--since', SINCE, '--json', ...args], home);
  }

  /** A push as its own process, as CI runs it: killed at a crash point when one is named. */
  function spawnPush(args: string[] = [], crashAt?: string): Promise<CommandOutcome> {
    if (crashAt) process.env.SAASCTL_TEST_CRASH_AT = crashAt;
    // execFile copies the environment when it starts the child.
    const outcome = spawnCli(['metering', 'push', '--since', SINCE, '--json', ...args], home);
    delete process.env.SAASCTL_TEST_CRASH_AT;
    return outcome;
  }

  async function ledgerOf(tenantIds: readonly string[]): Promise<LedgerRecord[]> {
    const all = await ledger.list({ from: '0000-01-01T00', to: '9999-12-31T23' });
    return all.filter((r) => tenantIds.includes(r.tenantId));
  }

  it('bills a day of usage of 50 tenants exactly, even when killed after a call and before the ledger update', async () => {
    const tenants = await seedTenants('day', 50);
    await seedUsage(tenants);

    const killed = await spawnPush(['--concurrency', '4'], 'after-call:10');
    expect(killed.exitCode, 'the push was killed').to.not.equal(0);
    expect(killed.json).to.equal(undefined);
    const left = await ledgerOf(tenants);
    // Killed with calls answered and their records still SENT: AWS holds what the ledger does not know.
    const acceptedByAws = new Set(
      (await control.accepted()).map((r) => `${r.customerAwsAccountId}|${r.dimension}|${r.timestamp}`),
    );
    const sentButAccepted = left.filter(
      (r) =>
        r.state === 'SENT' && acceptedByAws.has(`${accounts.get(r.tenantId)}|${r.dimension}|${r.timestamp}`),
    );
    expect(sentButAccepted.length).to.be.greaterThan(0);
    expect(left.some((r) => r.state === 'PENDING')).to.equal(true);

    const again = await push();
    expect(again.exitCode, again.stderr).to.equal(0);
    const result = again.json as PushResult;
    expect(result.totals.duplicate).to.equal(0);
    expect(result.records.every((r) => r.resent)).to.equal(true);
    await expectExactlyBilled();
    // Usage older than the 6-hour window went into the first open hour, with that hour's own.
    expect((await ledgerOf(tenants)).some((r) => Object.keys(r.covers).length > 1)).to.equal(true);
  });

  it('loses nothing and bills nothing twice when killed after the ledger write, before any call', async () => {
    const tenants = await seedTenants('pend', 5);
    await seedUsage(tenants, 8);
    const before = (await control.stats()).calls;

    const killed = await spawnPush(['--concurrency', '1'], 'after-pending');
    expect(killed.exitCode).to.not.equal(0);
    const left = await ledgerOf(tenants);
    expect(new Set(left.map((r) => r.state))).to.deep.equal(new Set(['PENDING']));
    expect((await control.stats()).calls).to.equal(before);

    const again = await push();
    expect(again.exitCode, again.stderr).to.equal(0);
    expect((again.json as PushResult).records).to.have.length(left.length);
    await expectExactlyBilled();
  });

  it('sends records left SENT again identical when killed around a call', async () => {
    const tenants = await seedTenants('sent', 5);
    await seedUsage(tenants, 8);

    const killed = await spawnPush(['--concurrency', '1'], 'after-sent:3');
    expect(killed.exitCode).to.not.equal(0);
    const left = await ledgerOf(tenants);
    // Two batches of 25 accepted, the third SENT (60 or 75 records: 4 or 5 hours in the window).
    const sent = left.filter((r) => r.state === 'SENT');
    expect(sent).to.have.length(Math.min(25, left.length - 50));
    expect(left.filter((r) => r.state === 'ACCEPTED')).to.have.length(50);

    const again = await push();
    expect(again.exitCode, again.stderr).to.equal(0);
    const resent = (again.json as PushResult).records.filter((r) =>
      sent.some((s) => s.hour === r.hour && s.tenantId === r.tenantId && s.dimension === r.dimension),
    );
    expect(resent.map((r) => [r.tenantId, r.dimension, r.timestamp, r.quantity, r.state])).to.deep.equal(
      sent.map((s) => [s.tenantId, s.dimension, s.timestamp, s.quantity, 'ACCEPTED']),
    );
    await expectExactlyBilled();
  });

  it('carries on from the next batch when killed between batches', async () => {
    const tenants = await seedTenants('gap', 5);
    await seedUsage(tenants, 8);

    const killed = await spawnPush(['--concurrency', '1'], 'between-batches:2');
    expect(killed.exitCode).to.not.equal(0);
    const left = await ledgerOf(tenants);
    expect(left.filter((r) => r.state === 'ACCEPTED')).to.have.length(50);
    expect(left.filter((r) => r.state === 'SENT')).to.have.length(0);

    const again = await push();
    expect(again.exitCode, again.stderr).to.equal(0);
    await expectExactlyBilled();
  });

  it('bills exactly through injected throttling, internal errors and UnprocessedRecords', async () => {
    const tenants = await seedTenants('flaky', 5);
    await seedUsage(tenants, 8);
    await control.resetStats();
    await control.setFaults({ throttle: 3, internalError: 2, unprocessed: 3 });

    const result = await push();

    expect(result.exitCode, result.stderr).to.equal(0);
    const body = result.json as PushResult;
    expect(body.totals.inFlight).to.equal(0);
    expect(body.unprocessed).to.be.greaterThan(0);
    const stats = await control.stats();
    expect(stats.throttled).to.be.at.least(3);
    expect(stats.records.unprocessed).to.be.greaterThan(0);
    await expectExactlyBilled();
  });

  it('bills late usage as a delta in a later hour, next to the hour it was pushed for', async () => {
    const [tenantId] = await seedTenants('late', 1);
    const hour = hourKey(currentHourStart - 3 * HOUR);
    const old = hourKey(currentHourStart - 12 * HOUR);
    await counters.apply(
      { tenantId, metric: 'api.call', hour, quantity: 40, aggregation: 'sum' },
      'late-seed',
    );
    expect((await push()).exitCode).to.equal(0);

    // Late events through the pipeline: one for the hour already pushed, one older than the window.
    const emitter = new UsageEmitter(clients.kinesis(), owner.info().platform.usageStream);
    await emitter.emit([
      { eventId: 'late-1', tenantId, metric: 'api.call', quantity: 5, ts: `${hour}:40:00.000Z` },
      { eventId: 'late-2', tenantId, metric: 'api.call', quantity: 2, ts: `${old}:10:00.000Z` },
    ]);
    expect((await run(['metering', 'pump', '--json'], home)).exitCode).to.equal(0);

    const result = await push();
    expect(result.exitCode, result.stderr).to.equal(0);
    const body = result.json as PushResult;
    expect(body.carried.map((c) => [c.hour, c.units, c.why])).to.deep.equal([
      [old, 2, 'window'],
      [hour, 5, 'late'],
    ]);
    // The older usage goes to the first open hour of the window, the delta to the next open one
    // after its own: the record of the hour already pushed is never sent again.
    const [early, delta] = body.carried;
    expect(delta.into > hour).to.equal(true);
    const records = await ledgerOf([tenantId]);
    expect(records.map((r) => [r.hour, r.quantity, r.covers, r.state])).to.deep.equal([
      [early.into, 2, { [`api.call#${old}`]: 2 }, 'ACCEPTED'],
      [hour, 40, { [`api.call#${hour}`]: 40 }, 'ACCEPTED'],
      [delta.into, 5, { [`api.call#${hour}`]: 5 }, 'ACCEPTED'],
    ]);
    await expectExactlyBilled();

    const shown = await run(['metering', 'ledger', '--tenant', tenantId, '--from', SINCE, '--json'], home);
    const report = shown.json as LedgerReport;
    expect(report.records).to.have.length(3);
    expect(report.totals.byState.ACCEPTED).to.deep.equal({ records: 3, units: 47 });
  });

  it('marks records of a buyer that is not subscribed REJECTED and exits 6, then bills them once it is', async () => {
    const [tenantId] = await seedTenants('lapsed', 1);
    const account = accounts.get(tenantId) as string;
    const subscription = {
      CustomerAWSAccountId: account,
      LicenseArn: licenseOf(Number(account) - 300_000_000_000),
    };
    await control.deregisterSubscription(subscription);
    await counters.apply(
      {
        tenantId,
        metric: 'doc.processed',
        hour: hourKey(currentHourStart - 2 * HOUR),
        quantity: 9,
        aggregation: 'sum',
      },
      'lapsed-seed',
    );

    const refused = await spawnPush();
    expect(refused.exitCode).to.equal(6);
    const body = refused.json as PushResult;
    expect(body.totals).to.include({ rejected: 1, accepted: 0 });
    expect(body.records[0].reason).to.match(/^CustomerNotSubscribed/);

    await control.registerSubscription(subscription);
    const billed = await push();
    expect(billed.exitCode, billed.stderr).to.equal(0);
    expect((billed.json as PushResult).records.map((r) => [r.quantity, r.state])).to.deep.equal([
      [9, 'ACCEPTED'],
    ]);
    await expectExactlyBilled();
  });

  it('prints exactly what it would send on a dry run, and writes and sends nothing', async () => {
    const [tenantId] = await seedTenants('dry', 1);
    const hour = hourKey(currentHourStart - HOUR);
    await counters.apply({ tenantId, metric: 'api.call', hour, quantity: 3, aggregation: 'sum' }, 'dry-seed');
    const calls = (await control.stats()).calls;
    const ledgerBefore = await ledger.list({ from: '0000-01-01T00', to: '9999-12-31T23' });

    const result = await push(['--dry-run']);

    expect(result.exitCode, result.stderr).to.equal(0);
    expect((result.json as PushResult).requests).to.deep.equal([
      {
        UsageRecords: [
          {
            Timestamp: `${hour}:00:00.000Z`,
            Dimension: 'api_calls',
            Quantity: 3,
            CustomerAWSAccountId: accounts.get(tenantId),
            LicenseArn: licenseOf(Number(accounts.get(tenantId)) - 300_000_000_000),
          },
        ],
      },
    ]);
    expect((await control.stats()).calls).to.equal(calls);
    expect(await ledger.list({ from: '0000-01-01T00', to: '9999-12-31T23' })).to.deep.equal(ledgerBefore);
    // Billed for real, so the totals below stay exact.
    expect((await push()).exitCode).to.equal(0);
    await expectExactlyBilled();
  });

  it('exports the month per tenant and metric, with what Marketplace accepted', async () => {
    const month = new Date(currentHourStart - HOUR).toISOString().slice(0, 7);
    const csv = await run(['metering', 'export', '--month', month, '--format', 'csv'], home);
    expect(csv.exitCode, csv.stderr).to.equal(0);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).to.equal('month,tenantId,metric,unit,aggregation,quantity,hours,marketplaceUnits');
    // late-000 had 45 calls 3 hours ago and 2 twelve hours ago (maybe last month), all accepted.
    const mine = (await allCounters()).filter((c) => c.tenantId === 'late-000' && c.hour.startsWith(month));
    const quantity = mine.reduce((n, c) => n + c.quantity, 0);
    const late = lines.find((l) => l.startsWith(`${month},late-000,api.call,`));
    expect(late?.split(',').slice(5)).to.deep.equal([
      String(quantity),
      String(mine.length),
      String(quantity),
    ]);

    const bad = await run(['metering', 'export', '--month', '2026-13', '--format', 'csv', '--json'], home);
    expect(bad.exitCode).to.equal(2);
    expect((bad.json as ErrorEnvelope).error.code).to.equal('INVALID_MONTH');
  });

  it('registers the subscription given to tenant onboard and tenant update with the emulator', async () => {
    const n = next++;
    const onboarded = await spawnCli(
      [
        'tenant',
        'onboard',
        'shop-co',
        '--tier',
        'starter',
        '--name',
        'Shop',
        '--admin-email',
        'ops@shop.test',
        '--marketplace-account-id',
        accountOf(n),
        '--license-arn',
        licenseOf(n),
        '--json',
      ],
      home,
    );
    expect(onboarded.exitCode, onboarded.stdout + onboarded.stderr).to.equal(0);
    expect((onboarded.json as { tenant: Tenant }).tenant).to.include({
      marketplaceAccountId: accountOf(n),
      licenseArn: licenseOf(n),
    });
    expect(await control.subscriptions()).to.deep.include({
      CustomerAWSAccountId: accountOf(n),
      LicenseArn: licenseOf(n),
    });

    const updated = await run(
      ['tenant', 'update', 'shop-co', '--marketplace-customer', 'LegacyShop42', '--json'],
      home,
    );
    expect(updated.exitCode, updated.stdout).to.equal(0);
    const tenant = (updated.json as { tenant: Tenant }).tenant;
    expect(tenant.marketplaceCustomer).to.equal('LegacyShop42');
    expect(tenant).to.not.have.property('licenseArn');
    expect(await control.subscriptions()).to.deep.include({
      CustomerIdentifier: 'LegacyShop42',
      ProductCode: 'saasctllocalproduct',
    });

    const refused = await run(
      ['tenant', 'update', 'shop-co', '--marketplace-account-id', accountOf(n), '--json'],
      home,
    );
    expect(refused.exitCode).to.equal(2);
    expect((refused.json as ErrorEnvelope).error.code).to.equal('INVALID_MARKETPLACE_SUBSCRIPTION');
  });
});
