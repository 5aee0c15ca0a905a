import { existsSync } from 'node:fs';

import { expect } from 'chai';

import { type ErrorEnvelope, run, tempHome } from '../helpers/cli.js';

const LICENSE = 'arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';

describe('bad input to Marketplace billing', () => {
  const { home, dispose } = tempHome();
  after(dispose);

  const cases: [string, string[], string][] = [
    [
      'a push of both --hour and --since',
      ['metering', 'push', '--hour', '2026-11-27T10:00:00Z', '--since', '2026-11-27T00:00:00Z'],
      'PERIOD_CONFLICT',
    ],
    ['a push of an hour that is not ISO 8601', ['metering', 'push', '--hour', 'yesterday'], 'INVALID_TIME'],
    [
      'a push of an hour not closed yet',
      ['metering', 'push', '--hour', '2999-01-01T00:00:00Z'],
      'HOUR_NOT_CLOSED',
    ],
    ['a ledger period that is not ISO 8601', ['metering', 'ledger', '--from', 'last week'], 'INVALID_TIME'],
    [
      'a ledger period that ends before it starts',
      ['metering', 'ledger', '--from', '2026-11-02T00:00:00Z', '--to', '2026-11-01T00:00:00Z'],
      'INVALID_PERIOD',
    ],
    ['an export month that is not YYYY-MM', ['metering', 'export', '--month', '2026-1'], 'INVALID_MONTH'],
    [
      'an onboard with an account id but no license',
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
        '--marketplace-account-id',
        '111122223333',
      ],
      'INVALID_MARKETPLACE_SUBSCRIPTION',
    ],
    [
      'an update with both kinds of buyer identity',
      [
        'tenant',
        'update',
        'acme',
        '--marketplace-account-id',
        '111122223333',
        '--license-arn',
        LICENSE,
        '--marketplace-customer',
        'cust-1',
      ],
      'INVALID_MARKETPLACE_SUBSCRIPTION',
    ],
  ];
  for (const [what, args, code] of cases) {
    it(`refuses ${what} with exit 2, before the local stack is started`, async () => {
      const result = await run([...args, '--json'], home);
      expect(result.exitCode, result.stdout).to.equal(2);
      expect((result.json as ErrorEnvelope).error.code).to.equal(code);
      expect(existsSync(home)).to.equal(false);
    });
  }

  it('refuses a crash switch naming no crash point, so a crash test cannot pass by a typo', async () => {
    process.env.SAASCTL_TEST_CRASH_AT = 'after-cal';
    try {
      const result = await run(['metering', 'push', '--json'], home);
      expect(result.exitCode).to.equal(2);
      expect((result.json as ErrorEnvelope).error.code).to.equal('INVALID_CRASH_POINT');
    } finally {
      delete process.env.SAASCTL_TEST_CRASH_AT;
    }
  });
});
