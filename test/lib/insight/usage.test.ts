import { expect } from 'chai';

import {
  monthWindow,
  monthUsage,
  parseHour,
  parseInstant,
  previousMonth,
  tenantLimits,
  tenantUsage,
  unitMonths,
} from '../../../src/lib/insight/usage.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { thrownBy } from '../helpers/aws.js';
import { counter, TIERS } from './fixtures.js';

const registry = new MetricRegistry();
const november = monthWindow('2026-11');
const pro = TIERS.find((t) => t.name === 'pro');

describe('usage arithmetic', () => {
  describe('monthWindow', () => {
    it('spans every hour of the month in UTC', () => {
      expect(november).to.deep.equal({
        month: '2026-11',
        from: '2026-11-01T00',
        to: '2026-11-30T23',
        days: 30,
        hours: 720,
      });
      expect(monthWindow('2028-02')).to.include({ days: 29, hours: 696, to: '2028-02-29T23' });
    });

    it('refuses a month that is not YYYY-MM (exit 2)', () => {
      const err = thrownBy(() => monthWindow('2026-13'));
      expect(err.code).to.equal('INVALID_MONTH');
      expect(err.exitCode).to.equal(2);
    });

    it('takes the month before as the last complete one, across a year', () => {
      expect(previousMonth(new Date('2027-01-15T10:00:00Z'))).to.equal('2026-12');
    });
  });

  describe('unitMonths (GB-months of a max metric)', () => {
    it('is the reading itself when it holds all month', () => {
      expect(unitMonths([{ hour: '2026-11-01T00', quantity: 40 }], november)).to.equal(40);
    });

    it('carries each reading forward until the next one and counts hours before the first as 0', () => {
      // 0 GB for 24 h, 30 GB for 48 h, 90 GB for the remaining 648 h: (30 x 48 + 90 x 648) / 720.
      const hourly = [
        { hour: '2026-11-04T00', quantity: 90 },
        { hour: '2026-11-02T00', quantity: 30 },
      ];
      expect(unitMonths(hourly, november)).to.equal((30 * 48 + 90 * 648) / 720);
    });

    it('ignores readings outside the month and is 0 without any', () => {
      expect(unitMonths([{ hour: '2026-10-31T23', quantity: 500 }], november)).to.equal(0);
      expect(unitMonths([], november)).to.equal(0);
    });
  });

  it('monthUsage sums summed metrics and takes the peak and unit-months of max ones', () => {
    const counters = [
      counter('a', 'api.call', '2026-11-01T00', 10),
      counter('a', 'api.call', '2026-11-30T23', 5),
      counter('a', 'storage.gb', '2026-11-01T00', 10),
      counter('a', 'storage.gb', '2026-11-16T00', 20),
    ];
    expect(monthUsage(counters, november, registry)).to.deep.equal([
      { metric: 'api.call', aggregation: 'sum', quantity: 15, billable: 15 },
      { metric: 'storage.gb', aggregation: 'max', quantity: 20, billable: 15 },
    ]);
  });

  it('tenantUsage lays the month out by day and holds each metric against its plan limit', () => {
    const counters = [
      counter('acme', 'api.call', '2026-11-03T10', 600_000),
      counter('acme', 'api.call', '2026-11-03T11', 250_000),
      counter('acme', 'doc.processed', '2026-11-04T00', 501),
      counter('acme', 'storage.gb', '2026-11-03T10', 40),
      counter('acme', 'storage.gb', '2026-11-03T12', 45),
      counter('other', 'api.call', '2026-11-03T10', 7),
    ];
    expect(tenantUsage('acme', pro, 'pro', counters, november, registry)).to.deep.equal({
      tenantId: 'acme',
      tier: 'pro',
      month: '2026-11',
      metrics: [
        {
          metric: 'api.call',
          aggregation: 'sum',
          quantity: 850_000,
          billable: 850_000,
          limit: 1_000_000,
          usedPct: 85,
          status: 'near',
        },
        {
          metric: 'doc.processed',
          aggregation: 'sum',
          quantity: 501,
          billable: 501,
          limit: 500,
          usedPct: 100.2,
          status: 'over',
        },
        // 0 GB for the first 58 h, 40 GB for 2 h, then 45 GB for the 660 h left from 3 Nov 12:00: (80 + 29,700) / 720.
        {
          metric: 'storage.gb',
          aggregation: 'max',
          quantity: 45,
          billable: (40 * 2 + 45 * 660) / 720,
          limit: 100,
          usedPct: 45,
          status: 'within',
        },
      ],
      days: [
        { day: '2026-11-03', usage: { 'api.call': 850_000, 'storage.gb': 45 } },
        { day: '2026-11-04', usage: { 'doc.processed': 501 } },
      ],
    });
  });

  it('tenantUsage says no-limit for a metric the plan does not limit', () => {
    const result = tenantUsage(
      'a',
      undefined,
      'gone',
      [counter('a', 'api.call', '2026-11-03T10', 3)],
      november,
      registry,
    );
    expect(result.metrics[0]).to.deep.equal({
      metric: 'api.call',
      aggregation: 'sum',
      quantity: 3,
      billable: 3,
      status: 'no-limit',
    });
  });

  describe('tenantLimits', () => {
    // 16 Nov 00:30: 360.5 hours into a 720-hour month. Pro: 1,000,000 calls a month are
    // 33,333.333 a day and 1,388.889 an hour; 500 documents; a 100 GB cap.
    const at = new Date('2026-11-16T00:30:00Z');
    const counters = [
      counter('lim', 'api.call', '2026-11-03T10', 300_000),
      counter('lim', 'api.call', '2026-11-16T00', 70_000),
      counter('lim', 'api.call', '2026-11-16T01', 999_999), // after --at: not seen
      counter('lim', 'doc.processed', '2026-11-02T00', 600),
      counter('lim', 'storage.gb', '2026-11-01T00', 50),
      counter('lim', 'storage.gb', '2026-11-15T00', 85),
    ];

    it('holds this hour, today and the month against the pro-rata allowances, with advice', () => {
      const result = tenantLimits('lim', pro, 'pro', counters, at, registry);
      expect(result).to.include({
        tenantId: 'lim',
        tier: 'pro',
        at: '2026-11-16T00:30:00.000Z',
        hour: '2026-11-16T00',
        month: '2026-11',
        throttle: true,
      });
      expect(result.metrics).to.deep.equal([
        {
          metric: 'api.call',
          aggregation: 'sum',
          limit: 1_000_000,
          hour: { used: 70_000, allowance: 1388.889, usedPct: 5040 },
          day: { used: 70_000, allowance: 33333.333, usedPct: 210 },
          month: { used: 370_000, allowance: 1_000_000, usedPct: 37 },
          // 370,000 x 720 / 360.5
          projectedMonth: 738973.648,
          advice: 'watch',
          why: "today's 70000 is over 2 x the daily allowance of 33333.333",
        },
        {
          metric: 'doc.processed',
          aggregation: 'sum',
          limit: 500,
          hour: { used: 0, allowance: 0.694, usedPct: 0 },
          day: { used: 0, allowance: 16.667, usedPct: 0 },
          month: { used: 600, allowance: 500, usedPct: 120 },
          projectedMonth: 1198.336,
          advice: 'throttle',
          why: 'month to date 600 is over the limit of 500',
        },
        {
          metric: 'storage.gb',
          aggregation: 'max',
          limit: 100,
          hour: { used: 0, allowance: 100, usedPct: 0 },
          day: { used: 0, allowance: 100, usedPct: 0 },
          month: { used: 85, allowance: 100, usedPct: 85 },
          advice: 'watch',
          why: 'the latest reading 85 is at 80 % or more of the cap of 100',
        },
      ]);
    });

    it('advises watch when the pace so far projects past the limit, ok otherwise', () => {
      const early = new Date('2026-11-02T00:00:00Z'); // 24 h in: 40,000 calls project to 1,200,000
      const pace = tenantLimits(
        'p',
        pro,
        'pro',
        [counter('p', 'api.call', '2026-11-01T05', 40_000)],
        early,
        registry,
      );
      expect(pace.metrics.find((m) => m.metric === 'api.call')).to.include({
        projectedMonth: 1_200_000,
        advice: 'watch',
      });
      const calm = tenantLimits(
        'p',
        pro,
        'pro',
        [counter('p', 'api.call', '2026-11-01T05', 20_000)],
        early,
        registry,
      );
      expect(calm.metrics.find((m) => m.metric === 'api.call')).to.include({ advice: 'ok' });
      expect(calm.throttle).to.equal(false);
    });
  });

  describe('parseHour and parseInstant', () => {
    it('reads an hour key or an ISO time as its hour', () => {
      expect(parseHour('2026-11-27T10')).to.equal('2026-11-27T10');
      expect(parseHour('2026-11-27T10:59:59Z')).to.equal('2026-11-27T10');
    });

    it('refuses what is not an hour, naming the form (exit 2)', () => {
      for (const bad of ['2026-11-27', 'yesterday', '2026-02-30T10', '2026-11-27T25']) {
        const err = thrownBy(() => parseHour(bad));
        expect(err.code, bad).to.equal('INVALID_HOUR');
        expect(err.exitCode).to.equal(2);
      }
      const err = thrownBy(() => parseInstant('2026-11-27 10:00', '--at'));
      expect(err.code).to.equal('INVALID_TIMESTAMP');
      expect(err.message).to.contain('--at');
    });
  });
});
