import { expect } from 'chai';

import {
  demoTour,
  runTour,
  tourMonth,
  TourStepFailed,
  type CommandOutcome,
  type StepEvent,
} from '../../../src/lib/demo/tour.js';

const NOW = new Date('2026-11-27T21:00:00Z');

/** Answers like the real commands', enough for the tour to choose its next steps. */
function answers(state: { tenants: string[]; heavyIsolation: string }) {
  return (argv: readonly string[]): CommandOutcome => {
    const [topic, verb] = argv;
    const ok = (json: unknown): CommandOutcome => ({ exitCode: 0, json, stderr: '' });
    if (topic === 'tenant' && verb === 'list')
      return ok(state.tenants.map((tenantId) => ({ tenantId, tier: 'pro' })));
    if (topic === 'tenant' && verb === 'onboard')
      return ok({ tenant: { tenantId: argv[2], tier: argv[4], status: 'ACTIVE' } });
    if (topic === 'metering' && verb === 'simulate') {
      return ok({
        events: 10,
        duplicates: 1,
        malformed: 0,
        heavyTenants: [{ tenantId: 'sim-001', events: 7 }],
      });
    }
    if (topic === 'metering' && verb === 'reconcile') return ok({ events: 10, drift: [] });
    if (topic === 'metering' && verb === 'push')
      return { exitCode: 6, json: { calls: 1, totals: { records: 2 } }, stderr: '' };
    if (topic === 'report') {
      return ok({
        tenants: [
          {
            tenantId: 'sim-001',
            tier: 'starter',
            isolation: state.heavyIsolation,
            margin: -500,
            flagged: true,
          },
        ],
      });
    }
    if (topic === 'key')
      return ok({ alias: 'alias/x', keyState: verb === 'disable' ? 'Disabled' : 'Enabled' });
    return ok({});
  };
}

describe('demo tour', () => {
  it('simulates the last complete month', () => {
    expect(tourMonth(NOW)).to.deep.equal({
      month: '2026-10',
      from: '2026-10-01T00:00:00.000Z',
      to: '2026-11-01T00:00:00.000Z',
    });
    expect(tourMonth(new Date('2027-01-05T00:00:00Z')).month).to.equal('2026-12');
  });

  it('runs every command in order, promoting the heaviest tenant the margin report flags', async () => {
    const ran: string[] = [];
    const exec = answers({ tenants: [], heavyIsolation: 'pool' });
    const report = await runTour(demoTour(NOW), async (argv) => {
      ran.push(argv.join(' '));
      return exec(argv);
    });
    expect(ran.map((line) => line.split(' ').slice(0, 2).join(' '))).to.deep.equal([
      'tenant list',
      'tenant onboard',
      'tenant onboard',
      'metering simulate',
      'metering reconcile',
      'metering push',
      'report margin',
      'tenant promote',
      'tenant seed',
      'key disable',
      'key status',
      'key enable',
      'audit isolation',
    ]);
    expect(ran).to.include('tenant promote sim-001 --to enterprise --yes --cleanup-now');
    expect(ran).to.include(
      'metering simulate --tenants 10 --events 6000 --from 2026-10-01T00:00:00.000Z --to 2026-11-01T00:00:00.000Z --seed 42',
    );
    expect(report.steps.every((s) => s.skipped === undefined)).to.equal(true);
    expect(report.steps.find((s) => s.id === 'kill')?.summary).to.equal('alias/x: Disabled');
  });

  it('skips what an earlier run did: onboarding, and promoting a tenant that is a silo now', async () => {
    const events: StepEvent[] = [];
    const report = await runTour(
      demoTour(NOW),
      async (argv) => answers({ tenants: ['demo-pool', 'demo-corp'], heavyIsolation: 'silo' })(argv),
      (event) => events.push(event),
    );
    const skipped = report.steps.filter((s) => s.skipped).map((s) => s.id);
    expect(skipped).to.deep.equal(['onboard-demo-pool', 'onboard-demo-corp', 'promote']);
    expect(events.filter((e) => e.kind === 'skip')).to.have.length(3);
  });

  it('stops at the first command that fails, naming it', async () => {
    let error: unknown;
    try {
      await runTour(demoTour(NOW), async (argv) =>
        argv[1] === 'reconcile'
          ? { exitCode: 5, json: { drift: [{}] }, stderr: '' }
          : answers({ tenants: [], heavyIsolation: 'pool' })(argv),
      );
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TourStepFailed);
    expect((error as TourStepFailed).argv).to.deep.equal(['metering', 'reconcile', '--month', '2026-10']);
    expect((error as TourStepFailed).outcome.exitCode).to.equal(5);
  });
});
