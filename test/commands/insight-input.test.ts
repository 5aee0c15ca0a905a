import { existsSync } from 'node:fs';

import { expect } from 'chai';

import { type ErrorEnvelope, run, tempHome } from '../helpers/cli.js';

describe('operator insight: bad input', () => {
  const { home, dispose } = tempHome();
  after(dispose);

  const cases: [string[], string, string][] = [
    [['tenant', 'usage', 'Acme'], 'INVALID_TENANT_ID', 'lowercase letters'],
    [['tenant', 'usage', 'acme', '--month', '2026-1'], 'INVALID_MONTH', 'expected YYYY-MM'],
    [['tenant', 'limits', 'acme', '--at', 'now'], 'INVALID_TIMESTAMP', 'ISO 8601 UTC time'],
    [['report', 'margin', '--month', '2026-13'], 'INVALID_MONTH', 'expected YYYY-MM'],
    [['report', 'margin', '--out', '/nonexistent-folder/m.html'], 'INVALID_OUT', 'does not exist'],
    [['report', 'margin', '--format', 'pdf'], 'USAGE', 'pdf'],
    [['report', 'noisy-neighbours', '--hour', 'yesterday'], 'INVALID_HOUR', 'YYYY-MM-DDTHH'],
    [['report', 'noisy-neighbours', '--factor', '1'], 'INVALID_FACTOR', 'above 1'],
    [['cost', 'set'], 'COST_TARGET_REQUIRED', 'one change at a time'],
    [['cost', 'set', '--metric', 'api.call', '--per-1000', 'abc'], 'INVALID_UNIT_COST', 'at most 6 decimals'],
    [['cost', 'set', '--metric', 'storage.tb', '--per-unit', '1'], 'UNKNOWN_METRIC', 'known metrics'],
    [
      ['cost', 'set', '--tier', 'pro', '--fixed-monthly', '1.005'],
      'INVALID_FIXED_COST',
      'at most 2 decimals',
    ],
  ];
  for (const [args, code, rule] of cases) {
    it(`refuses \`${args.join(' ')}\` with exit 2 (${code}) before starting anything`, async () => {
      const result = await run([...args, '--json'], home);
      expect(result.exitCode).to.equal(2);
      const { error } = result.json as ErrorEnvelope;
      expect(error.code).to.equal(code);
      expect(error.message).to.contain(rule);
      expect(existsSync(home), 'the local stack was started').to.equal(false);
    });
  }
});
