import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

import { expect } from 'chai';

import type { StackStatus } from '../../src/lib/local/admin.js';
import type { Tenant } from '../../src/lib/tenants/model.js';
import { bin, type ErrorEnvelope, spawnCli, tempHome } from '../helpers/cli.js';

describe('local stack commands', function () {
  this.timeout(120_000);
  const { home, dispose } = tempHome();

  after(async () => {
    await spawnCli(['local', 'stop'], home);
    dispose();
  });

  it('reports a stopped stack before anything ran', async () => {
    const result = await spawnCli(['local', 'status', '--json'], home);
    expect(result.exitCode).to.equal(0);
    expect((result.json as StackStatus).running).to.equal(false);
  });

  it('starts in the background with every service but the on-demand PostgreSQL, and says so in status', async () => {
    const started = await spawnCli(['local', 'start', '--detach', '--json', '--no-api'], home);
    expect(started.exitCode, started.stderr).to.equal(0);
    const status = (await spawnCli(['local', 'status', '--json'], home)).json as StackStatus;
    expect(status.running).to.equal(true);
    expect(status.stack?.mode).to.equal('daemon');
    expect(Object.keys(status.stack?.endpoints ?? {}).sort()).to.deep.equal([
      'cognito',
      'dynamodb',
      'kinesis',
      'kms',
      'marketplace',
      'organizations',
      's3',
      'sts',
    ]);
    expect(status.stack?.platform.userPool.id).to.match(/^local_/);
  });

  it('refuses a second long-running stack on the same home with exit 4', async () => {
    const result = await spawnCli(['local', 'start', '--json'], home);
    expect(result.exitCode).to.equal(4);
    expect((result.json as ErrorEnvelope).error.code).to.equal('LOCAL_STACK_RUNNING');
  });

  it('serves one-shot commands from the running stack, leaving it up', async () => {
    const onboarded = await spawnCli(
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
    expect(onboarded.exitCode, onboarded.stderr).to.equal(0);
    const status = (await spawnCli(['local', 'status', '--json'], home)).json as StackStatus;
    expect(status.running).to.equal(true);
    expect(status.stack?.leases).to.deep.equal([]);
  });

  it('runs the pipeline pump while it is up: emitted usage reaches the lake and the counters', async () => {
    const emitted = await spawnCli(
      [
        'metering',
        'emit',
        '--tenant',
        'acme',
        '--metric',
        'api.call',
        '--quantity',
        '4',
        '--ts',
        '2026-11-27T10:00:00Z',
      ],
      home,
    );
    expect(emitted.exitCode, emitted.stderr).to.equal(0);
    let totals: { lake: number; counters: number } | undefined;
    for (let attempt = 0; attempt < 20 && totals?.counters !== 4; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const result = await spawnCli(
        ['metering', 'reconcile', '--from', '2026-11-27T00:00:00Z', '--to', '2026-11-28T00:00:00Z', '--json'],
        home,
      );
      totals = (result.json as { totals: { lake: number; counters: number } }).totals;
    }
    expect(totals).to.deep.equal({ lake: 4, counters: 4 });
  });

  it('refuses to reset a running stack with exit 4', async () => {
    const result = await spawnCli(['local', 'reset', '--yes', '--json'], home);
    expect(result.exitCode).to.equal(4);
    expect((result.json as ErrorEnvelope).error.code).to.equal('LOCAL_STACK_RUNNING');
  });

  it('stops, keeping state for the next command', async () => {
    const stopped = await spawnCli(['local', 'stop', '--json'], home);
    expect(stopped.exitCode).to.equal(0);
    expect((stopped.json as { stopped: boolean }).stopped).to.equal(true);
    expect(((await spawnCli(['local', 'status', '--json'], home)).json as StackStatus).running).to.equal(
      false,
    );
    const again = await spawnCli(['local', 'stop', '--json'], home);
    expect((again.json as { stopped: boolean }).stopped, 'stopping a stopped stack is success').to.equal(
      false,
    );

    const tenants = (await spawnCli(['tenant', 'list', '--json'], home)).json as Tenant[];
    expect(tenants.map((t) => t.tenantId)).to.deep.equal(['acme']);
  });

  it('resets the state with --yes: tenants gone, default tiers seeded again', async () => {
    const reset = await spawnCli(['local', 'reset', '--yes', '--json'], home);
    expect(reset.exitCode, reset.stderr).to.equal(0);
    expect(existsSync(`${home}/dynamodb`)).to.equal(false);
    expect((await spawnCli(['tenant', 'list', '--json'], home)).json).to.deep.equal([]);
    const tiers = (await spawnCli(['tier', 'list', '--json'], home)).json as unknown[];
    expect(tiers).to.have.length(5);
  });

  it('recovers from a one-shot command that was killed while it owned the stack', async () => {
    const child = spawn(process.execPath, [bin, 'local', 'start', '--no-api'], {
      env: { ...process.env, SAASCTL_HOME: home },
      stdio: 'ignore',
    });
    // Wait until it owns the home, then kill it without letting it clean up.
    for (let i = 0; i < 100; i++) {
      const status = (await spawnCli(['local', 'status', '--json'], home)).json as StackStatus;
      if (status.running && status.stack?.pid === child.pid && status.stack?.endpoints.cognito) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(existsSync(`${home}/stack.lock`), 'the dead owner left its lock').to.equal(true);

    const result = await spawnCli(['tenant', 'list', '--json'], home);
    expect(result.exitCode, result.stderr).to.equal(0);
    expect(result.json).to.deep.equal([]);
  });
});
