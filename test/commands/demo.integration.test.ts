import { expect } from 'chai';

import type { TourReport } from '../../src/lib/demo/tour.js';
import { spawnCli, tempHome, type ErrorEnvelope } from '../helpers/cli.js';

describe('saasctl demo on the embedded stack', function () {
  this.timeout(300_000);
  const { home, dispose } = tempHome();
  after(() => dispose());

  it('tours the whole mission, and runs again skipping what is done', async () => {
    const first = await spawnCli(['demo', '--json'], home);
    expect(first.exitCode, first.stdout + first.stderr).to.equal(0);
    const steps = (first.json as TourReport).steps;
    expect(steps.map((s) => s.id)).to.deep.equal([
      'tenants',
      'onboard-demo-pool',
      'onboard-demo-corp',
      'simulate',
      'reconcile',
      'push',
      'margin',
      'promote',
      'seed',
      'kill',
      'status',
      'enable',
      'audit',
    ]);
    expect(steps.filter((s) => s.skipped)).to.deep.equal([]);
    expect(steps.find((s) => s.id === 'promote')?.command).to.match(
      /^saasctl tenant promote sim-\d{3} --to enterprise/,
    );
    expect(steps.find((s) => s.id === 'kill')?.summary).to.match(/Disabled; a data key request was refused/);
    expect(steps.find((s) => s.id === 'enable')?.summary).to.match(/: Enabled/);
    expect(steps.find((s) => s.id === 'audit')?.summary).to.equal(
      'passed: 4 checks passed, 0 failed, 0 skipped',
    );

    const second = await spawnCli(['demo', '--json'], home);
    expect(second.exitCode, second.stdout + second.stderr).to.equal(0);
    const skipped = (second.json as TourReport).steps.filter((s) => s.skipped).map((s) => s.id);
    expect(skipped).to.deep.equal(['onboard-demo-pool', 'onboard-demo-corp', 'promote']);
  });

  it('refuses the aws target before doing anything', async () => {
    const result = await spawnCli(['demo', '--target', 'aws', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('DEMO_LOCAL_ONLY');
  });
});
