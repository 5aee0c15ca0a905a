import { expect } from 'chai';

import { assertNoisyFactor, noisyNeighbours } from '../../../src/lib/insight/noisy.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { thrownBy } from '../helpers/aws.js';
import { counter, tenant, TIERS } from './fixtures.js';

const HOUR = '2026-11-10T14';
const tenants = [
  tenant('p1', 'pro'),
  tenant('p2', 'pro'),
  tenant('s1', 'starter'),
  tenant('s2', 'starter'),
  tenant('s3', 'starter'),
  tenant('e1', 'enterprise'),
  tenant('d1', 'starter', { status: 'DELETED' }),
];
const counters = [
  counter('p1', 'api.call', HOUR, 3000),
  counter('p2', 'api.call', HOUR, 1000),
  counter('s1', 'api.call', HOUR, 5000),
  counter('s2', 'api.call', HOUR, 100),
  counter('e1', 'api.call', HOUR, 50_000), // a silo: not in the pool
  counter('d1', 'api.call', HOUR, 9000), // deleted: not in the pool
  counter('s2', 'doc.processed', HOUR, 50),
  counter('p2', 'doc.processed', HOUR, 10),
  counter('s3', 'storage.gb', HOUR, 400), // a stock, not a rate
  counter('s1', 'api.call', '2026-11-10T15', 100_000), // another hour
];

function report(factor?: number) {
  return noisyNeighbours({
    hour: HOUR,
    counters,
    tenants,
    tiers: TIERS,
    registry: new MetricRegistry(),
    ...(factor === undefined ? {} : { factor }),
  });
}

describe('noisyNeighbours (values computed by hand)', () => {
  it('flags pooled tenants using more than 3x their expected share and more than their hourly pace', () => {
    // api.call: pool limits 2 x 1,000,000 + 3 x 100,000 = 2,300,000, so a starter expects
    // 100,000 / 2,300,000 = 4.35 %; s1 used 5,000 of 9,100 = 54.9 %, 12.64 x, above its
    // 100,000 / 720 = 138.889 calls an hour. doc.processed: limits 2 x 500 + 3 x 100 = 1,300;
    // s2 used 50 of 60 = 83.3 % against 100 / 1,300 = 7.69 %: 10.83 x.
    const result = report();
    expect(result.noisy).to.deep.equal([
      {
        tenantId: 's1',
        tier: 'starter',
        metric: 'api.call',
        quantity: 5000,
        share: 0.5495,
        expectedShare: 0.0435,
        ratio: 12.64,
        hourlyAllowance: 138.889,
      },
      {
        tenantId: 's2',
        tier: 'starter',
        metric: 'doc.processed',
        quantity: 50,
        share: 0.8333,
        expectedShare: 0.0769,
        ratio: 10.83,
        hourlyAllowance: 0.139,
      },
    ]);
    expect(result.metrics).to.deep.equal([
      { metric: 'api.call', total: 9100, activeTenants: 4, poolTenants: 5 },
      { metric: 'doc.processed', total: 60, activeTenants: 2, poolTenants: 5 },
    ]);
    expect(result).to.include({ hour: HOUR, factor: 3 });
  });

  it('honours a higher factor', () => {
    expect(report(11).noisy.map((n) => n.tenantId)).to.deep.equal(['s1']);
    expect(report(13).noisy).to.deep.equal([]);
  });

  it('does not flag a tenant alone in a quiet hour, below its own hourly pace', () => {
    const quiet = noisyNeighbours({
      hour: '2026-11-10T03',
      counters: [counter('s1', 'api.call', '2026-11-10T03', 100)],
      tenants,
      tiers: TIERS,
      registry: new MetricRegistry(),
    });
    expect(quiet.noisy).to.deep.equal([]);
    expect(quiet.metrics).to.deep.equal([
      { metric: 'api.call', total: 100, activeTenants: 1, poolTenants: 5 },
    ]);
  });

  it('refuses a factor that is not above 1 (exit 2)', () => {
    for (const bad of ['1', '0.5', 'x', '', '5000']) {
      const err = thrownBy(() => assertNoisyFactor(bad));
      expect(err.code, bad).to.equal('INVALID_FACTOR');
      expect(err.exitCode).to.equal(2);
    }
    expect(assertNoisyFactor('2.5')).to.equal(2.5);
  });
});
