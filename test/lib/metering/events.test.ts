import { expect } from 'chai';

import { ExitCode } from '../../../src/lib/cli/errors.js';
import {
  assertEvent,
  hourOf,
  hourOfDate,
  hoursBetween,
  hourStart,
  parseTimestamp,
  validateEvent,
} from '../../../src/lib/metering/events.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import type { UsageEvent } from '../../../src/lib/metering/types.js';
import { thrownBy } from '../helpers/aws.js';

const registry = new MetricRegistry();
const now = new Date('2026-11-27T12:00:00.000Z');
const good: UsageEvent = {
  eventId: 'evt-1',
  tenantId: 'acme',
  metric: 'api.call',
  quantity: 1,
  ts: '2026-11-27T10:15:00.000Z',
};

describe('usage event validation', () => {
  it('accepts a well-formed event and returns it', () => {
    expect(validateEvent(good, registry, now)).to.deep.equal({ ok: true, event: good });
  });

  it('ignores unknown fields and returns only the five known ones', () => {
    const result = validateEvent({ ...good, region: 'eu-west-1', extra: { nested: true } }, registry, now);
    expect(result).to.deep.equal({ ok: true, event: good });
  });

  it('returns a new object, not the input', () => {
    const input = { ...good };
    const result = validateEvent(input, registry, now);
    expect(result.ok && result.event).to.not.equal(input);
  });

  // Each rule: the valid values it lets through, and the invalid ones with the reason given.
  const rules: {
    rule: string;
    valid: Record<string, unknown>[];
    invalid: { why: string; event: unknown; reason: string }[];
  }[] = [
    {
      rule: 'an event is an object',
      valid: [{ ...good }],
      invalid: [
        { why: 'null', event: null, reason: 'event: must be a JSON object with eventId, tenantId' },
        {
          why: 'an array',
          event: [good],
          reason:
            'event: must be a JSON object with eventId, tenantId, metric, quantity and ts (got an array)',
        },
        { why: 'a string', event: JSON.stringify(good), reason: 'event: must be a JSON object' },
        { why: 'a number', event: 42, reason: 'event: must be a JSON object' },
        { why: 'missing', event: undefined, reason: 'event: must be a JSON object' },
      ],
    },
    {
      rule: 'eventId is 1-128 characters of [A-Za-z0-9._:-]',
      valid: [
        { eventId: 'a' },
        { eventId: 'x'.repeat(128) },
        { eventId: 'Req.01_a:b-C' },
        { eventId: '3f0c2b9e-6d4a-4a7e-9a51-0c3f7e1d2b4a' },
      ],
      invalid: [
        {
          why: 'missing',
          event: { eventId: undefined },
          reason: 'eventId: must be a string of 1-128 characters',
        },
        { why: 'a number', event: { eventId: 7 }, reason: '(got 7)' },
        { why: 'empty', event: { eventId: '' }, reason: 'from A-Z a-z 0-9 . _ : - (got "")' },
        { why: '129 characters', event: { eventId: 'x'.repeat(129) }, reason: '(got 129 characters)' },
        { why: 'holding a space', event: { eventId: 'evt 1' }, reason: 'eventId: must be a string' },
        { why: 'holding a slash', event: { eventId: 'evt/1' }, reason: 'eventId: must be a string' },
        { why: 'holding a non-ASCII letter', event: { eventId: 'évt' }, reason: 'eventId: must be a string' },
        { why: 'holding a newline', event: { eventId: 'evt\n1' }, reason: '(got "evt\\n1")' },
      ],
    },
    {
      rule: 'tenantId is a valid tenant id',
      valid: [{ tenantId: 'acme-corp' }, { tenantId: '123' }, { tenantId: 'a'.repeat(32) }],
      invalid: [
        {
          why: 'missing',
          event: { tenantId: undefined },
          reason: 'tenantId: must be a tenant id string (got nothing)',
        },
        {
          why: 'uppercase',
          event: { tenantId: 'Acme' },
          reason: 'tenantId: must be a valid tenant id (got "Acme": it may hold only lowercase letters',
        },
        { why: 'too short', event: { tenantId: 'ab' }, reason: 'it is 2 characters long (3-32 allowed)' },
        { why: 'holding "--"', event: { tenantId: 'a--b' }, reason: 'it contains "--"' },
        { why: 'a reserved word', event: { tenantId: 'admin' }, reason: '"admin" is a reserved word' },
        { why: 'an object', event: { tenantId: { id: 'acme' } }, reason: '(got an object)' },
      ],
    },
    {
      rule: 'metric is known to the registry',
      valid: [{ metric: 'doc.processed' }, { metric: 'storage.gb', quantity: 12.5 }],
      invalid: [
        {
          why: 'unknown',
          event: { metric: 'api.calls' },
          reason:
            'metric: must be a known metric, one of api.call, doc.processed, storage.gb (got "api.calls")',
        },
        { why: 'missing', event: { metric: undefined }, reason: 'metric: must be a known metric' },
        { why: 'not a string', event: { metric: 1 }, reason: '(got 1)' },
        {
          why: 'an Object.prototype name',
          event: { metric: 'constructor' },
          reason: 'metric: must be a known',
        },
      ],
    },
    {
      rule: 'quantity is a finite number >= 0, at most 1e12 for sum metrics',
      valid: [
        { quantity: 0 },
        { quantity: 1e12 },
        { metric: 'storage.gb', quantity: 0.125 },
        { metric: 'storage.gb', quantity: 5e12 },
      ],
      invalid: [
        {
          why: 'negative',
          event: { quantity: -1 },
          reason: 'quantity: must be a finite number >= 0 (got -1)',
        },
        { why: 'NaN', event: { quantity: NaN }, reason: 'quantity: must be a finite number >= 0 (got NaN)' },
        { why: 'infinite', event: { quantity: Infinity }, reason: 'quantity: must be a finite number >= 0' },
        {
          why: 'a numeric string',
          event: { quantity: '5' },
          reason: 'quantity: must be a finite number >= 0 (got "5")',
        },
        { why: 'null', event: { quantity: null }, reason: '(got null)' },
        {
          why: 'above 1e12 for a sum metric',
          event: { quantity: 1e12 + 1 },
          reason: 'quantity: must be at most 1e12 for api.call, a sum metric',
        },
      ],
    },
    {
      rule: 'ts is an ISO 8601 UTC timestamp with Z, at most 5 minutes ahead of now',
      valid: [
        { ts: '2026-11-27T10:15:00Z' },
        { ts: '2026-11-27T10:15:00.999Z' },
        { ts: '2024-02-29T12:00:00Z' },
        { ts: '2026-11-27T12:05:00.000Z' },
        { ts: '2019-01-01T00:00:00Z' },
      ],
      invalid: [
        {
          why: 'missing',
          event: { ts: undefined },
          reason: 'ts: must be an ISO 8601 UTC timestamp ending in Z',
        },
        { why: 'epoch millis', event: { ts: 1795774500000 }, reason: '(got 1795774500000)' },
        { why: 'with an offset', event: { ts: '2026-11-27T10:15:00+00:00' }, reason: 'ending in Z' },
        { why: 'local time', event: { ts: '2026-11-27T10:15:00.000' }, reason: 'ending in Z' },
        { why: 'with a space', event: { ts: '2026-11-27 10:15:00Z' }, reason: 'ending in Z' },
        { why: 'with one fraction digit', event: { ts: '2026-11-27T10:15:00.1Z' }, reason: 'ending in Z' },
        { why: 'a date only', event: { ts: '2026-11-27' }, reason: 'ending in Z' },
        {
          why: 'February 30th',
          event: { ts: '2026-02-30T00:00:00Z' },
          reason: 'ts: must be a real date and time (got "2026-02-30T00:00:00Z")',
        },
        { why: 'hour 24', event: { ts: '2026-11-27T24:00:00Z' }, reason: 'ts: must be a real date and time' },
        {
          why: 'second 60',
          event: { ts: '2026-11-27T10:15:60Z' },
          reason: 'ts: must be a real date and time',
        },
        {
          why: 'Feb 29 in 2027',
          event: { ts: '2027-02-29T00:00:00Z' },
          reason: 'ts: must be a real date and time',
        },
        {
          why: 'more than 5 minutes ahead',
          event: { ts: '2026-11-27T12:05:00.001Z' },
          reason:
            'ts: must be at most 5 minutes in the future (got 2026-11-27T12:05:00.001Z, now 2026-11-27T12:00:00.000Z)',
        },
      ],
    },
  ];

  for (const { rule, valid, invalid } of rules) {
    describe(`rule: ${rule}`, () => {
      for (const fields of valid) {
        it(`accepts ${JSON.stringify(fields)}`, () => {
          const event = { ...good, ...fields };
          expect(validateEvent(event, registry, now)).to.deep.equal({ ok: true, event });
        });
      }
      for (const { why, event, reason } of invalid) {
        it(`refuses ${why}, naming the rule`, () => {
          const input =
            typeof event === 'object' && event !== null && !Array.isArray(event)
              ? { ...good, ...event }
              : event;
          const result = validateEvent(input, registry, now);
          expect(result.ok).to.equal(false);
          expect(result.ok ? '' : result.reason).to.include(reason);
        });
      }
    });
  }

  it('judges the future against the injected now, not the clock', () => {
    const ts = '2030-01-01T00:00:00Z';
    expect(validateEvent({ ...good, ts }, registry, now).ok).to.equal(false);
    expect(validateEvent({ ...good, ts }, registry, new Date('2030-01-01T00:00:00Z')).ok).to.equal(true);
  });

  it('shortens a long value in the reason so a hostile event cannot flood the quarantine log', () => {
    const result = validateEvent({ ...good, metric: 'x'.repeat(10_000) }, registry, now);
    expect(result.ok ? '' : result.reason).to.have.length.below(200);
  });

  it('knows metrics added to the registry', () => {
    const withSeats = new MetricRegistry([
      { name: 'seat.active', unit: 'seats', aggregation: 'max', description: 'Seats.' },
    ]);
    const event = { ...good, metric: 'seat.active' };
    expect(validateEvent(event, withSeats, now).ok).to.equal(true);
    expect(validateEvent(event, registry, now).ok).to.equal(false);
  });

  it('never throws, whatever JSON it is handed', () => {
    const odd: unknown[] = [
      {},
      [],
      '',
      0,
      true,
      { __proto__: null },
      JSON.parse('{"__proto__": {"eventId": "x"}}'),
      { ...good, quantity: { valueOf: () => 1 } },
      Object.create(null),
    ];
    for (const value of odd) expect(() => validateEvent(value, registry, now)).to.not.throw();
  });

  describe('assertEvent', () => {
    it('returns the event when it is valid', () => {
      expect(assertEvent({ ...good, note: 'x' }, registry, now)).to.deep.equal(good);
    });

    it('throws INVALID_EVENT with exit code 2 and the reason', () => {
      const err = thrownBy(() => assertEvent({ ...good, tenantId: 'Acme' }, registry, now));
      expect(err.code).to.equal('INVALID_EVENT');
      expect(err.exitCode).to.equal(ExitCode.usage);
      expect(err.message).to.match(/^Invalid usage event: tenantId: must be a valid tenant id \(got "Acme"/);
    });
  });
});

describe('hours (UTC)', () => {
  describe('hourOf', () => {
    const cases: { ts: string; hour: string; boundary: string }[] = [
      { ts: '2026-11-27T10:15:00.000Z', hour: '2026-11-27T10', boundary: 'inside an hour' },
      { ts: '2026-11-27T10:00:00Z', hour: '2026-11-27T10', boundary: 'on the hour' },
      {
        ts: '2026-11-27T10:59:59.999Z',
        hour: '2026-11-27T10',
        boundary: 'at the last millisecond of an hour',
      },
      { ts: '2026-11-27T23:59:59.999Z', hour: '2026-11-27T23', boundary: 'before midnight' },
      { ts: '2026-11-28T00:00:00.000Z', hour: '2026-11-28T00', boundary: 'at midnight' },
      { ts: '2026-11-30T23:30:00Z', hour: '2026-11-30T23', boundary: 'at the end of a month' },
      { ts: '2026-12-01T00:00:00Z', hour: '2026-12-01T00', boundary: 'at the start of a month' },
      { ts: '2026-12-31T23:59:59Z', hour: '2026-12-31T23', boundary: 'at the end of a year' },
      { ts: '2027-01-01T00:00:00Z', hour: '2027-01-01T00', boundary: 'at the start of a year' },
      { ts: '2028-02-29T00:00:00Z', hour: '2028-02-29T00', boundary: 'at the start of a leap day' },
      { ts: '2028-02-29T23:59:59.999Z', hour: '2028-02-29T23', boundary: 'at the end of a leap day' },
      { ts: '2028-03-01T00:00:00Z', hour: '2028-03-01T00', boundary: 'after a leap day' },
    ];
    for (const { ts, hour, boundary } of cases) {
      it(`puts ${ts} in ${hour} (${boundary})`, () => {
        expect(hourOf(ts)).to.equal(hour);
        expect(hourStart(hour).getTime()).to.be.at.most(Date.parse(ts));
        expect(hourStart(hour).getTime() + 3_600_000).to.be.above(Date.parse(ts));
      });
    }

    it('refuses a timestamp that is not in the event format, rather than reading it as local time', () => {
      for (const ts of ['2026-11-27 10:15:00', '2026-11-27T10:15:00+02:00', '2026-02-30T00:00:00Z', 'soon']) {
        const err = thrownBy(() => hourOf(ts));
        expect(err.code).to.equal('INVALID_TIMESTAMP');
        expect(err.exitCode).to.equal(ExitCode.usage);
      }
    });
  });

  describe('hourStart', () => {
    it('gives the first instant of the hour', () => {
      expect(hourStart('2028-02-29T23').toISOString()).to.equal('2028-02-29T23:00:00.000Z');
    });

    it('round-trips with hourOfDate', () => {
      for (const hour of ['2026-01-01T00', '2026-12-31T23', '2028-02-29T12']) {
        expect(hourOfDate(hourStart(hour))).to.equal(hour);
      }
    });

    for (const hour of [
      '2026-11-27T24',
      '2026-11-27 10',
      '2026-02-30T00',
      '2027-02-29T00',
      '2026-11-27',
      '',
    ]) {
      it(`refuses "${hour}" with INVALID_HOUR`, () => {
        const err = thrownBy(() => hourStart(hour));
        expect(err.code).to.equal('INVALID_HOUR');
        expect(err.exitCode).to.equal(ExitCode.usage);
      });
    }
  });

  describe('hoursBetween', () => {
    const d = (iso: string) => new Date(iso);
    const cases: { what: string; from: string; to: string; hours: string[] }[] = [
      {
        what: 'across midnight',
        from: '2026-11-27T22:00:00Z',
        to: '2026-11-28T02:00:00Z',
        hours: ['2026-11-27T22', '2026-11-27T23', '2026-11-28T00', '2026-11-28T01'],
      },
      {
        what: 'across a month end',
        from: '2026-11-30T23:00:00Z',
        to: '2026-12-01T01:00:00Z',
        hours: ['2026-11-30T23', '2026-12-01T00'],
      },
      {
        what: 'across a year end',
        from: '2026-12-31T22:00:00Z',
        to: '2027-01-01T02:00:00Z',
        hours: ['2026-12-31T22', '2026-12-31T23', '2027-01-01T00', '2027-01-01T01'],
      },
      {
        what: 'into a leap day',
        from: '2028-02-28T23:00:00Z',
        to: '2028-02-29T01:00:00Z',
        hours: ['2028-02-28T23', '2028-02-29T00'],
      },
      {
        what: 'out of a leap day',
        from: '2028-02-29T23:00:00Z',
        to: '2028-03-01T01:00:00Z',
        hours: ['2028-02-29T23', '2028-03-01T00'],
      },
      {
        what: 'across the end of February in a common year',
        from: '2027-02-28T23:00:00Z',
        to: '2027-03-01T01:00:00Z',
        hours: ['2027-02-28T23', '2027-03-01T00'],
      },
      {
        what: 'including the hour a mid-hour from falls in',
        from: '2026-11-27T10:30:00Z',
        to: '2026-11-27T12:00:00Z',
        hours: ['2026-11-27T10', '2026-11-27T11'],
      },
      {
        what: 'including the hour a mid-hour to falls in',
        from: '2026-11-27T10:00:00Z',
        to: '2026-11-27T11:00:00.001Z',
        hours: ['2026-11-27T10', '2026-11-27T11'],
      },
      { what: 'for an empty period', from: '2026-11-27T10:00:00Z', to: '2026-11-27T10:00:00Z', hours: [] },
      { what: 'for a reversed period', from: '2026-11-27T11:00:00Z', to: '2026-11-27T10:00:00Z', hours: [] },
    ];
    for (const { what, from, to, hours } of cases) {
      it(`steps hours ${what}, from inclusive and to exclusive`, () => {
        expect(hoursBetween(d(from), d(to))).to.deep.equal(hours);
      });
    }

    const spans: { what: string; from: string; to: string; count: number; first: string; last: string }[] = [
      {
        what: 'November 2026',
        from: '2026-11-01',
        to: '2026-12-01',
        count: 720,
        first: '2026-11-01T00',
        last: '2026-11-30T23',
      },
      {
        what: 'February 2028',
        from: '2028-02-01',
        to: '2028-03-01',
        count: 696,
        first: '2028-02-01T00',
        last: '2028-02-29T23',
      },
      {
        what: 'the leap year 2028',
        from: '2028-01-01',
        to: '2029-01-01',
        count: 8784,
        first: '2028-01-01T00',
        last: '2028-12-31T23',
      },
    ];
    for (const { what, from, to, count, first, last } of spans) {
      it(`gives ${count} distinct hours for ${what}`, () => {
        const hours = hoursBetween(d(`${from}T00:00:00Z`), d(`${to}T00:00:00Z`));
        expect(hours).to.have.length(count);
        expect(new Set(hours).size).to.equal(count);
        expect(hours[0]).to.equal(first);
        expect(hours[hours.length - 1]).to.equal(last);
        expect([...hours].sort()).to.deep.equal(hours);
      });
    }

    it('refuses an invalid date with INVALID_PERIOD', () => {
      const err = thrownBy(() => hoursBetween(new Date('nope'), d('2026-11-27T10:00:00Z')));
      expect(err.code).to.equal('INVALID_PERIOD');
    });
  });

  describe('under a local time zone with DST', () => {
    const savedTz = process.env.TZ;
    afterEach(() => {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
    });

    it('still buckets and steps in UTC when TZ is America/St_Johns (UTC-3:30, DST ends 2026-11-01)', () => {
      process.env.TZ = 'America/St_Johns';
      // The zone must really be in effect, or this test would pass for code that uses local time.
      expect(new Date('2026-11-27T10:15:00Z').getHours()).to.equal(6);
      expect(new Date('2026-11-27T10:15:00Z').getMinutes()).to.equal(45);

      expect(hourOf('2026-11-27T02:15:00Z')).to.equal('2026-11-27T02');
      expect(hourOf('2026-12-31T23:59:59Z')).to.equal('2026-12-31T23');
      expect(hourOf('2028-02-29T01:00:00Z')).to.equal('2028-02-29T01');
      expect(hourStart('2026-11-27T02').toISOString()).to.equal('2026-11-27T02:00:00.000Z');
      // The local clock repeats an hour on Nov 1; UTC does not.
      const day = hoursBetween(new Date('2026-11-01T00:00:00Z'), new Date('2026-11-02T00:00:00Z'));
      expect(day).to.have.length(24);
      expect(day).to.deep.equal(
        Array.from({ length: 24 }, (_, h) => `2026-11-01T${String(h).padStart(2, '0')}`),
      );
      expect(hoursBetween(new Date('2026-11-01T00:00:00Z'), new Date('2026-12-01T00:00:00Z'))).to.have.length(
        720,
      );
    });
  });
});

describe('parseTimestamp', () => {
  it('reads both forms of the event timestamp to the same instant', () => {
    expect(parseTimestamp('2026-11-27T10:15:00Z')).to.equal(parseTimestamp('2026-11-27T10:15:00.000Z'));
    expect(parseTimestamp('2026-11-27T10:15:00Z')).to.equal(Date.UTC(2026, 10, 27, 10, 15));
  });

  it('returns undefined for a string V8 would quietly roll over', () => {
    expect(Date.parse('2026-02-30T00:00:00Z')).to.not.be.NaN;
    expect(parseTimestamp('2026-02-30T00:00:00Z')).to.equal(undefined);
  });
});
