import { gunzipSync } from 'node:zlib';

import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import { applyBatch } from '../../src/lib/metering/aggregator.js';
import { UsageCounters, type UsageCounter } from '../../src/lib/metering/counters.js';
import { listLakeKeys } from '../../src/lib/metering/lake.js';
import { QUARANTINE_PREFIX } from '../../src/lib/metering/lake-layout.js';
import { MetricRegistry } from '../../src/lib/metering/metrics.js';
import type { ReconcileResult } from '../../src/lib/metering/reconcile.js';
import type { SimulateResult } from '../../src/lib/metering/run-simulate.js';
import { Simulation, simulatedTenantId, simulationSettings } from '../../src/lib/metering/simulate.js';
import { sdk } from '../../src/lib/platform/sdk.js';
import { spawnCli, tempHome } from '../helpers/cli.js';

/**
 * The metering issue's acceptance run: a simulated month of 200 tenants through the whole
 * pipeline, then reconcile finds it clean, finds exactly the counters we corrupt, repairs them,
 * shrugs off a redelivered batch, and the malformed records sit in quarantine.
 */
describe('a simulated month of 200 tenants, reconciled', function () {
  this.timeout(300_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;
  let clients: ReturnType<typeof localClients>;
  let counters: UsageCounters;
  let simulated: SimulateResult;
  const request = {
    tenants: 200,
    events: 8000,
    from: '2026-10-01T00:00:00Z',
    to: '2026-11-01T00:00:00Z',
    duplicateRate: '0.02',
    lateRate: '0.02',
    malformedRate: '0.005',
    seed: 7,
  };
  const month = ['--month', '2026-10'];

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    clients = localClients(owner.info().endpoints, 'us-east-1');
    counters = new UsageCounters(clients.documents(), owner.info().platform.tables.usage);
    const result = await spawnCli(
      [
        'metering',
        'simulate',
        '--tenants',
        String(request.tenants),
        '--events',
        String(request.events),
        '--from',
        request.from,
        '--to',
        request.to,
        '--duplicate-rate',
        request.duplicateRate,
        '--late-rate',
        request.lateRate,
        '--malformed-rate',
        request.malformedRate,
        '--seed',
        String(request.seed),
        '--json',
      ],
      home,
    );
    expect(result.exitCode, result.stderr).to.equal(0);
    simulated = result.json as SimulateResult;
  });
  after(async () => {
    clients?.destroy();
    await owner?.stop();
    dispose();
  });

  it('simulated the month with the skew and the faults asked for', () => {
    expect(simulated.tenants.used).to.equal(200);
    expect(simulated.tenants.onboarded).to.have.length(200);
    expect(simulated.duplicates / simulated.events).to.be.within(0.012, 0.028);
    expect(simulated.late).to.be.greaterThan(0);
    expect(simulated.malformed).to.be.greaterThan(0);
    // A few heavy tenants and a long tail: the heaviest holds far more than an even share.
    expect(simulated.heavyTenants[0].events).to.be.greaterThan((5 * simulated.events) / 200);
  });

  it('finds the counters equal to the lake: duplicates dropped, malformed counted apart', async () => {
    const result = await spawnCli(['metering', 'reconcile', ...month, '--json'], home);
    expect(result.exitCode, result.stderr).to.equal(0);
    const body = result.json as ReconcileResult;
    expect(body.drift).to.deep.equal([]);
    expect(body.duplicates).to.equal(simulated.duplicates);
    expect(body.malformed).to.equal(simulated.malformed);
    expect(body.events).to.equal(simulated.events - simulated.malformed);
    expect(body.totals.lake).to.equal(body.totals.counters);
  });

  it('reports exactly the 5 counters corrupted, exits 5, repairs them with --fix, then finds nothing', async () => {
    const all = await counters.list({ from: '2026-10-01T00', to: '2026-10-31T23' });
    const victims = [0, 37, 101, 202, 303].map((i) => all[(i * 7) % all.length]);
    const corrupt = async (c: UsageCounter, quantity: number) =>
      expect(await counters.set(c.tenantId, c.metric, c.hour, quantity, { expectedQuantity: c.quantity })).to
        .be.true;
    for (const [n, c] of victims.entries()) await corrupt(c, n % 2 === 0 ? c.quantity + 1 + n : 0);

    const found = await spawnCli(['metering', 'reconcile', ...month, '--json'], home);
    expect(found.exitCode).to.equal(5);
    const drift = (found.json as ReconcileResult).drift;
    const key = (r: { tenantId: string; metric: string; hour: string }) =>
      `${r.tenantId}|${r.metric}|${r.hour}`;
    expect(drift.map(key).sort()).to.deep.equal(victims.map(key).sort());

    const fixed = await spawnCli(['metering', 'reconcile', ...month, '--fix', '--json'], home);
    expect(fixed.exitCode, fixed.stderr).to.equal(0);
    expect((fixed.json as ReconcileResult).drift.filter((d) => d.fixed)).to.have.length(5);

    const again = await spawnCli(['metering', 'reconcile', ...month, '--json'], home);
    expect(again.exitCode).to.equal(0);
    expect((again.json as ReconcileResult).drift).to.deep.equal([]);
  });

  it('counts nothing twice when a batch is redelivered', async () => {
    // The same plan the command ran: same request, same clock (the period ended long ago).
    const settings = simulationSettings({ ...request });
    const tenantIds = Array.from({ length: 200 }, (_, i) => simulatedTenantId(i + 1));
    const plan = new Simulation({ ...settings, tenantIds, stream: owner.info().platform.usageStream });
    let redelivered = 0;
    const registry = new MetricRegistry();
    for (const object of plan.objects()) {
      if (!object.batch) continue;
      const outcome = await applyBatch(
        counters,
        object.batch.id,
        object.batch.events,
        (m) => registry.require(m).aggregation,
      );
      expect(outcome.applied).to.equal(0);
      expect(outcome.duplicates).to.equal(outcome.deltas);
      if (++redelivered === 3) break;
    }
    expect(redelivered).to.equal(3);
  });

  it('keeps every malformed record in quarantine', async () => {
    const s3 = clients.s3();
    const bucket = owner.info().platform.rawLakeBucket;
    let lines = 0;
    for await (const key of listLakeKeys(s3, bucket, [QUARANTINE_PREFIX])) {
      const { Body } = await s3.send(new (sdk.s3().GetObjectCommand)({ Bucket: bucket, Key: key }));
      const text = gunzipSync(await Body!.transformToByteArray()).toString('utf8');
      lines += text.split('\n').filter((line) => line.trim() !== '').length;
    }
    expect(lines).to.equal(simulated.malformed);
  });
});
