import { existsSync } from 'node:fs';

import { expect } from 'chai';

import { type ErrorEnvelope, run, tempHome } from '../helpers/cli.js';

describe('bad input', () => {
  const { home, dispose } = tempHome();
  after(dispose);

  // The id goes after `--`, so ids that start with a hyphen reach the validation too.
  const onboard = (id: string, ...extra: string[]) =>
    run(
      [
        'tenant',
        'onboard',
        '--tier',
        'pro',
        '--name',
        'Acme',
        '--admin-email',
        'ops@acme.test',
        ...extra,
        '--',
        id,
      ],
      home,
    );

  const invalidIds: [string, string][] = [
    ['ab', '2 characters long'],
    ['a'.repeat(33), '33 characters long'],
    ['Acme', 'lowercase letters'],
    ['ac_me', 'lowercase letters'],
    ['-acme', 'start and end'],
    ['acme-', 'start and end'],
    ['ac--me', 'contains "--"'],
    ['admin', 'reserved word'],
  ];
  for (const [id, rule] of invalidIds) {
    it(`refuses tenant id "${id}" with exit 2, naming the rule (${rule}), and starts nothing`, async () => {
      const result = await onboard(id, '--json');
      expect(result.exitCode).to.equal(2);
      const { error } = result.json as ErrorEnvelope;
      expect(error.code).to.equal('INVALID_TENANT_ID');
      expect(error.message).to.include(rule);
      expect(error.exitCode).to.equal(2);
      expect(existsSync(home), 'the local stack must not have been started').to.equal(false);
    });
  }

  it('refuses a malformed admin email with exit 2 before touching the stack', async () => {
    const result = await run(
      [
        'tenant',
        'onboard',
        'acme',
        '--tier',
        'pro',
        '--name',
        'Acme',
        '--admin-email',
        'not-an-email',
        '--json',
      ],
      home,
    );
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('INVALID_EMAIL');
    expect(existsSync(home)).to.equal(false);
  });

  it('prints the error and the rule on stderr for humans, nothing on stdout', async () => {
    const result = await onboard('Bad_Id');
    expect(result.exitCode).to.equal(2);
    expect(result.stdout).to.equal('');
    expect(result.stderr).to.include('[INVALID_TENANT_ID]');
    expect(result.stderr).to.include('Rule: a tenant id is 3-32 characters');
  });

  it('answers an unknown flag with exit 2 and a usage error', async () => {
    const result = await run(['tenant', 'onboard', 'acme', '--colour', 'blue', '--json'], home);
    expect(result.exitCode).to.equal(2);
    const { error } = result.json as ErrorEnvelope;
    expect(error.code).to.equal('USAGE');
    expect(error.message).to.match(/Nonexistent flag: --colour/);
  });

  it('answers a missing required flag with exit 2', async () => {
    const result = await run(['tenant', 'onboard', 'acme', '--tier', 'pro', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.message).to.match(/Missing required flag/);
  });

  it('refuses an invalid target with exit 2', async () => {
    const result = await run(['tenant', 'list', '--target', 'mars', '--json'], home);
    expect(result.exitCode).to.equal(2);
  });

  it('refuses --profile on the local target with exit 2', async () => {
    const result = await run(['tenant', 'list', '--profile', 'prod', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('PROFILE_ON_LOCAL');
  });

  it('refuses a suspension without a real reason', async () => {
    const result = await run(['tenant', 'suspend', 'acme', '--reason', 'no', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('INVALID_REASON');
    expect(existsSync(home)).to.equal(false);
  });

  it('refuses an update with nothing to change', async () => {
    const result = await run(['tenant', 'update', 'acme', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('NOTHING_TO_UPDATE');
  });

  it('refuses local reset without --yes when not on a terminal', async () => {
    const result = await run(['local', 'reset', '--json'], home);
    expect(result.exitCode).to.equal(2);
    expect((result.json as ErrorEnvelope).error.code).to.equal('CONFIRMATION_REQUIRED');
  });
});
