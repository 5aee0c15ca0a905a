import { setTimeout as sleep } from 'node:timers/promises';

import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import { UsageCounters } from '../../src/lib/metering/counters.js';
import { UsageEmitter } from '../../src/lib/metering/emitter.js';
import type { ReconcileResult } from '../../src/lib/metering/reconcile.js';
import type { UsageEvent } from '../../src/lib/metering/types.js';
import type { AuditRecord } from '../../src/lib/tenants/model.js';
import { run, spawnCli, tempHome, type ErrorEnvelope } from '../helpers/cli.js';

describe('metering reconcile on the embedded stack', function () {
  this.timeout(120_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;
  let counters: UsageCounters;
  const period = ['--from', '2026-11-27T00:00:00Z', '--to', '2026-11-28T00:00:00Z'];

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    const clients = localClients(owner.info().endpoints, 'us-east-1');
    counters = new UsageCounters(clients.documents(), owner.info().platform.tables.usage);
    for (const id of ['acme', 'globex']) {
      const result = await run(
        ['tenant', 'onboard', id, '--tier', 'pro', '--name', id, '--admin-email', `ops@${id}.test`, '--json'],
        home,
      );
      expect(result.exitCode, result.stdout + result.stderr).to.equal(0);
    }
    const events: UsageEvent[] = [];
    for (let i = 0; i < 600; i++) {
      const tenantId = i % 3 === 0 ? 'globex' : 'acme';
      events.push({
        eventId: `evt-${i}`,
        tenantId,
        metric: i % 5 === 0 ? 'doc.processed' : 'api.call',
        quantity: 1 + (i % 4),
        ts: new Date(Date.UTC(2026, 10, 27, 9 + (i % 3), i % 60)).toISOString(),
      });
    }
    // Clients retry: every tenth event is sent twice. The lake keeps both; counts must not.
    const withDuplicates = events.flatMap((e, i) => (i % 10 === 0 ? [e, e] : [e]));
    await new UsageEmitter(clients.kinesis(), owner.info().platform.usageStream).emit(withDuplicates);
    const pumped = await run(['metering', 'pump', '--json'], home);
    expect(pumped.exitCode, pumped.stdout).to.equal(0);
    clients.destroy();
  });
  after(async () => {
    await owner.stop();
    dispose();
  });

  it('finds the counters equal to the lake, duplicates dropped by event id', async () => {
    const result = await spawnCli(['metering', 'reconcile', ...period, '--json'], home);
    expect(result.exitCode, result.stderr).to.equal(0);
    const body = result.json as ReconcileResult;
    expect(body).to.include({ events: 600, duplicates: 60, malformed: 0 });
    expect(body.drift).to.deep.equal([]);
    expect(body.totals.lake).to.equal(body.totals.counters);
    expect(body.totals.lake).to.equal(
      Array.from({ length: 600 }, (_, i) => 1 + (i % 4)).reduce((a, b) => a + b),
    );
  });

  it('reports exactly the corrupted counters and exits 5', async () => {
    const [first, second] = await counters.list({ from: '2026-11-27T00', to: '2026-11-27T23' });
    await counters.set(first.tenantId, first.metric, first.hour, first.quantity + 7, {
      expectedQuantity: first.quantity,
    });
    await counters.set(second.tenantId, second.metric, second.hour, 0, { expectedQuantity: second.quantity });

    const result = await spawnCli(['metering', 'reconcile', ...period, '--json'], home);

    expect(result.exitCode).to.equal(5);
    const { drift } = result.json as ReconcileResult;
    expect(drift.map((d) => [d.tenantId, d.metric, d.hour, d.difference])).to.deep.equal([
      [first.tenantId, first.metric, first.hour, -7],
      [second.tenantId, second.metric, second.hour, second.quantity],
    ]);
  });

  it('repairs the drift with --fix, audited on the tenant, and finds nothing afterwards', async () => {
    const fixed = await spawnCli(['metering', 'reconcile', ...period, '--fix', '--json'], home);
    expect(fixed.exitCode, fixed.stderr).to.equal(0);
    expect((fixed.json as ReconcileResult).drift.every((d) => d.fixed)).to.equal(true);
    expect((fixed.json as ReconcileResult).drift).to.have.length(2);

    const again = await spawnCli(['metering', 'reconcile', ...period, '--json'], home);
    expect(again.exitCode).to.equal(0);
    expect((again.json as ReconcileResult).drift).to.deep.equal([]);

    const tenant = (fixed.json as ReconcileResult).drift[0].tenantId;
    const { audit } = (await run(['tenant', 'show', tenant, '--json'], home)).json as {
      audit: AuditRecord[];
    };
    expect(audit.some((a) => a.action === 'usage-fix')).to.equal(true);
  });

  it('lists apart the usage that arrived after its hour was reconciled, counted on both sides', async () => {
    // The clean run above marked the period's hours reconciled; a late event for 09:00 arrives.
    // (S3 times are to the second: the waits keep each write and mark in seconds of their own.)
    await sleep(1100);
    const clients = localClients(owner.info().endpoints, 'us-east-1');
    await new UsageEmitter(clients.kinesis(), owner.info().platform.usageStream).emit([
      {
        eventId: 'late-1',
        tenantId: 'acme',
        metric: 'api.call',
        quantity: 3,
        ts: '2026-11-27T09:30:00.000Z',
      },
    ]);
    clients.destroy();
    expect((await run(['metering', 'pump', '--json'], home)).exitCode).to.equal(0);
    await sleep(1100);

    const result = await spawnCli(['metering', 'reconcile', ...period, '--json'], home);
    expect(result.exitCode, result.stderr).to.equal(0);
    const body = result.json as ReconcileResult;
    expect(body.drift).to.deep.equal([]);
    expect(body.arrivedAfterReconcile).to.deep.equal([
      { tenantId: 'acme', metric: 'api.call', hour: '2026-11-27T09', quantity: 3, events: 1 },
    ]);
    expect(body.hoursMarked).to.be.greaterThan(0);

    // That run marked the hours again: the same usage is no longer news.
    const again = await spawnCli(['metering', 'reconcile', ...period, '--json'], home);
    expect((again.json as ReconcileResult).arrivedAfterReconcile).to.deep.equal([]);
  });

  it('reads the lake with the engine asked for, and refuses athena on the local target', async () => {
    const result = await spawnCli(['metering', 'reconcile', ...period, '--engine', 'athena', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('ATHENA_NOT_CONFIGURED');
  });

  it('refuses a period it cannot read with exit 2', async () => {
    for (const args of [
      ['--month', '2026-13'],
      ['--month', '2026-11', '--from', '2026-11-01T00:00:00Z'],
      [],
    ]) {
      const result = await run(['metering', 'reconcile', ...args, '--json'], home);
      expect(result.exitCode, args.join(' ')).to.equal(2);
      expect((result.json as ErrorEnvelope).error.code).to.match(/MONTH|PERIOD/);
    }
  });
});
