import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import type { StackOwner } from '../../src/lib/local/stack.js';
import type { ReconcileResult } from '../../src/lib/metering/reconcile.js';
import type { SimulateResult } from '../../src/lib/metering/run-simulate.js';
import type { Tenant } from '../../src/lib/tenants/model.js';
import { run, spawnCli, tempHome, type ErrorEnvelope } from '../helpers/cli.js';

const DAY = 86_400_000;

describe('metering simulate on the embedded stack', function () {
  this.timeout(180_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;
  // Two whole days that ended more than 20 h ago: late arrivals have all arrived.
  const to = new Date(Math.floor(Date.now() / DAY) * DAY - DAY);
  const from = new Date(to.getTime() - 2 * DAY);
  const period = ['--from', from.toISOString(), '--to', to.toISOString()];
  const simulate = [
    'metering',
    'simulate',
    '--tenants',
    '5',
    '--events',
    '2000',
    ...period,
    '--duplicate-rate',
    '0.05',
    '--late-rate',
    '0.05',
    '--malformed-rate',
    '0.02',
    '--seed',
    '42',
    '--json',
  ];
  let first: SimulateResult;
  let firstReconcile: ReconcileResult;

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    const onboarded = await run(
      [
        'tenant',
        'onboard',
        'acme',
        '--tier',
        'pro',
        '--name',
        'Acme',
        '--admin-email',
        'ops@acme.test',
        '--json',
      ],
      home,
    );
    expect(onboarded.exitCode).to.equal(0);
  });
  after(async () => {
    await owner.stop();
    dispose();
  });

  async function tenants(): Promise<Tenant[]> {
    return (await run(['tenant', 'list', '--json'], home)).json as Tenant[];
  }

  it('uses the ACTIVE tenants and onboards pooled sim tenants for the rest', async () => {
    const result = await spawnCli(simulate, home);
    expect(result.exitCode, result.stderr + result.stdout).to.equal(0);
    first = result.json as SimulateResult;
    expect(first.tenants).to.deep.equal({ used: 5, onboarded: ['sim-001', 'sim-002', 'sim-003', 'sim-004'] });
    expect(first).to.include({ events: 2000, seed: 42 });
    expect(first.period).to.deep.equal({ from: from.toISOString(), to: to.toISOString() });
    expect(first.duplicates).to.be.greaterThan(0);
    expect(first.late).to.be.greaterThan(0);
    expect(first.malformed).to.be.greaterThan(0);
    expect(first.heavyTenants.length).to.equal(5);
    expect(first.heavyTenants[0].events).to.be.greaterThan(first.heavyTenants[4].events);

    const sims = (await tenants()).filter((t) => t.tenantId.startsWith('sim-'));
    expect(sims.map((t) => [t.tenantId, t.status, t.isolation, t.adminEmail])).to.deep.equal(
      [1, 2, 3, 4].map((i) => [`sim-00${i}`, 'ACTIVE', 'pool', `sim-00${i}@sim.saasctl.test`]),
    );
  });

  it('leaves counters that reconcile finds equal to the lake: duplicates dropped, malformed counted', async () => {
    const result = await spawnCli(['metering', 'reconcile', ...period, '--json'], home);
    expect(result.exitCode, result.stderr + result.stdout).to.equal(0);
    firstReconcile = result.json as ReconcileResult;
    expect(firstReconcile.drift).to.deep.equal([]);
    expect(firstReconcile).to.include({
      events: first.events - first.malformed,
      duplicates: first.duplicates,
      malformed: first.malformed,
      objects: first.objects,
      outsidePeriod: 0,
    });
    expect(firstReconcile.totals.counters).to.equal(firstReconcile.totals.lake);
    expect(firstReconcile.totals.lake).to.be.greaterThan(0);
  });

  it('changes nothing when run again with the same seed', async () => {
    const again = await spawnCli(simulate, home);
    expect(again.exitCode, again.stderr + again.stdout).to.equal(0);
    const second = again.json as SimulateResult;
    expect(second.tenants).to.deep.equal({ used: 5, onboarded: [] });
    expect(second.countersApplied).to.equal(0);
    expect(first.countersApplied).to.be.greaterThan(0);
    const { tenants: _t1, countersApplied: _c1, ...firstRest } = first;
    const { tenants: _t2, countersApplied: _c2, ...secondRest } = second;
    expect(secondRest).to.deep.equal(firstRest);

    const result = await spawnCli(['metering', 'reconcile', ...period, '--json'], home);
    expect(result.exitCode, result.stderr + result.stdout).to.equal(0);
    const pick = ({ events, duplicates, malformed, objects, compared, drift, totals }: ReconcileResult) => ({
      events,
      duplicates,
      malformed,
      objects,
      compared,
      drift,
      totals,
    });
    expect(pick(result.json as ReconcileResult)).to.deep.equal(pick(firstReconcile));
  });

  it('simulates the days up to the current hour, late arrivals held back by the clock', async () => {
    const result = await spawnCli(
      [
        'metering',
        'simulate',
        '--tenants',
        '3',
        '--events',
        '300',
        '--days',
        '1',
        '--late-rate',
        '0.3',
        '--json',
      ],
      home,
    );
    expect(result.exitCode, result.stderr + result.stdout).to.equal(0);
    const body = result.json as SimulateResult;
    expect(body.tenants.onboarded).to.deep.equal([]);
    expect(Date.parse(body.period.to) - Date.parse(body.period.from)).to.equal(DAY);
    expect(Date.parse(body.period.to) % 3_600_000).to.equal(0);

    const reconciled = await spawnCli(
      ['metering', 'reconcile', '--from', body.period.from, '--to', body.period.to, '--json'],
      home,
    );
    expect(reconciled.exitCode, reconciled.stderr + reconciled.stdout).to.equal(0);
    expect((reconciled.json as ReconcileResult).drift).to.deep.equal([]);
  });

  const refused: [string[], string, string][] = [
    [['--tenants', '0', '--events', '10', '--days', '1'], 'INVALID_TENANT_COUNT', 'from 1 to 10,000'],
    [
      ['--tenants', '9', '--events', '10', '--days', '1', '--late-rate', '0.9'],
      'INVALID_RATE',
      'from 0 to 0.5',
    ],
    [['--tenants', '9', '--events', '10', '--days', '93'], 'INVALID_DAYS', 'from 1 to 92'],
    [
      ['--tenants', '9', '--events', '10', '--from', '2026-01-01', '--to', '2999-01-02'],
      'PERIOD_IN_FUTURE',
      'in the future',
    ],
    [
      ['--tenants', '9', '--events', '10', '--days', '1', '--from', '2026-01-01'],
      'PERIOD_CONFLICT',
      'not both',
    ],
  ];
  for (const [args, code, rule] of refused) {
    it(`refuses ${args.join(' ')} with exit 2 naming the rule, onboarding nothing`, async () => {
      const before = (await tenants()).length;
      const result = await run(['metering', 'simulate', ...args, '--json'], home);
      expect(result.exitCode).to.equal(2);
      const { error } = result.json as ErrorEnvelope;
      expect(error.code).to.equal(code);
      expect(error.message).to.include(rule);
      expect((await tenants()).length).to.equal(before);
    });
  }
});
