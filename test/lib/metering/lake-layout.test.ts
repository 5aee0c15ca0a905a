import { expect } from 'chai';

import { ExitCode } from '../../../src/lib/cli/errors.js';
import { MAX_FUTURE_SKEW_MS } from '../../../src/lib/metering/events.js';
import {
  EARLY_ARRIVAL_MS,
  FIREHOSE_MAX_BUFFER_MS,
  hourPrefix,
  lakeObjectKey,
  parseLakeObjectKey,
  partitionsForPeriod,
  quarantineKey,
} from '../../../src/lib/metering/lake-layout.js';
import { thrownBy } from '../helpers/aws.js';

const uuid = '3f0c2b9e-6d4a-4a7e-9a51-0c3f7e1d2b4a';
const d = (iso: string) => new Date(iso);
const HOUR = 3_600_000;

describe('raw lake key layout', () => {
  describe('lakeObjectKey', () => {
    it('writes the Firehose layout from the arrival time in UTC, with version 1 by default', () => {
      expect(
        lakeObjectKey({ stream: 'saasctl-usage', arrival: d('2026-11-27T10:15:42.123Z'), uuid }),
      ).to.equal(`raw/2026/11/27/10/saasctl-usage-1-2026-11-27-10-15-42-${uuid}.gz`);
    });

    it('writes the delivery stream version it is given', () => {
      expect(
        lakeObjectKey({ stream: 'usage', arrival: d('2026-01-02T03:04:05Z'), version: 12, uuid }),
      ).to.equal(`raw/2026/01/02/03/usage-12-2026-01-02-03-04-05-${uuid}.gz`);
    });

    it('makes up a random uuid when none is given, as Firehose does', () => {
      const arrival = d('2026-11-27T10:15:42Z');
      const a = lakeObjectKey({ stream: 'usage', arrival });
      const b = lakeObjectKey({ stream: 'usage', arrival });
      expect(a).to.not.equal(b);
      expect(parseLakeObjectKey(a)?.uuid).to.match(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    });

    const refused: { what: string; input: Parameters<typeof lakeObjectKey>[0]; code: string }[] = [
      {
        what: 'a stream name with a slash',
        input: { stream: 'a/b', arrival: d('2026-11-27T10:00:00Z') },
        code: 'INVALID_STREAM_NAME',
      },
      {
        what: 'an empty stream name',
        input: { stream: '', arrival: d('2026-11-27T10:00:00Z') },
        code: 'INVALID_STREAM_NAME',
      },
      {
        what: 'a 65-character stream name',
        input: { stream: 's'.repeat(65), arrival: d('2026-11-27T10:00:00Z') },
        code: 'INVALID_STREAM_NAME',
      },
      {
        what: 'version 0',
        input: { stream: 'usage', arrival: d('2026-11-27T10:00:00Z'), version: 0 },
        code: 'INVALID_STREAM_VERSION',
      },
      {
        what: 'a fractional version',
        input: { stream: 'usage', arrival: d('2026-11-27T10:00:00Z'), version: 1.5 },
        code: 'INVALID_STREAM_VERSION',
      },
      {
        what: 'a uuid that is not one',
        input: { stream: 'usage', arrival: d('2026-11-27T10:00:00Z'), uuid: 'x/../y' },
        code: 'INVALID_UUID',
      },
      { what: 'an invalid arrival', input: { stream: 'usage', arrival: d('nope') }, code: 'INVALID_DATE' },
      {
        what: 'an arrival past year 9999',
        input: { stream: 'usage', arrival: d('+010000-01-01T00:00:00Z') },
        code: 'INVALID_DATE',
      },
    ];
    for (const { what, input, code } of refused) {
      it(`refuses ${what} with ${code}`, () => {
        const err = thrownBy(() => lakeObjectKey(input));
        expect(err.code).to.equal(code);
        expect(err.exitCode).to.equal(ExitCode.usage);
      });
    }
  });

  describe('parseLakeObjectKey', () => {
    const roundTrips: { stream: string; arrival: string; version?: number; uuid: string }[] = [
      { stream: 'saasctl-usage', arrival: '2026-11-27T10:15:42Z', uuid },
      { stream: 'usage', arrival: '2026-12-31T23:59:59Z', version: 3, uuid },
      { stream: 'usage', arrival: '2027-01-01T00:00:00Z', uuid },
      { stream: 'usage', arrival: '2028-02-29T12:34:56Z', uuid },
      // A name ending in "-<digits>" must not be mistaken for the version.
      { stream: 'usage-2', arrival: '2026-11-27T10:15:42Z', version: 1, uuid },
      { stream: 'usage-2026-11', arrival: '2026-11-27T10:15:42Z', version: 7, uuid },
      { stream: 'a', arrival: '2026-11-27T10:15:42Z', uuid },
      { stream: 'Usage_v2.prod', arrival: '2026-11-27T10:15:42Z', uuid: uuid.toUpperCase() },
      { stream: 's'.repeat(64), arrival: '2026-11-27T10:15:42Z', version: 999_999_999, uuid },
    ];
    for (const { stream, arrival, version, uuid: id } of roundTrips) {
      it(`round-trips stream ${stream.length > 20 ? `of ${stream.length} chars` : stream}, version ${version ?? 1}, arrival ${arrival}`, () => {
        const key = lakeObjectKey({ stream, arrival: d(arrival), version, uuid: id });
        const parts = parseLakeObjectKey(key);
        expect(parts).to.deep.equal({
          prefixHour: arrival.slice(0, 13),
          stream,
          version: version ?? 1,
          arrival: d(arrival),
          uuid: id,
        });
        expect(lakeObjectKey(parts!)).to.equal(key);
      });
    }

    it('keeps the arrival to the second, as the key holds it', () => {
      const parts = parseLakeObjectKey(
        lakeObjectKey({ stream: 'usage', arrival: d('2026-11-27T10:15:42.999Z'), uuid }),
      );
      expect(parts?.arrival.toISOString()).to.equal('2026-11-27T10:15:42.000Z');
    });

    it('accepts a key whose name is stamped in a later hour than its prefix (Firehose keys by the oldest record)', () => {
      const parts = parseLakeObjectKey(`raw/2026/11/27/10/usage-1-2026-11-27-11-00-03-${uuid}.gz`);
      expect(parts?.prefixHour).to.equal('2026-11-27T10');
      expect(parts?.arrival.toISOString()).to.equal('2026-11-27T11:00:03.000Z');
    });

    const valid = `raw/2026/11/27/10/usage-1-2026-11-27-10-15-42-${uuid}.gz`;
    const foreign: { what: string; key: string }[] = [
      { what: 'a quarantine key', key: `quarantine/2026/11/27/10/${uuid}.ndjson.gz` },
      { what: 'a bare hour prefix', key: 'raw/2026/11/27/10/' },
      { what: 'a key without .gz', key: valid.slice(0, -3) },
      { what: 'a key with a suffix after .gz', key: `${valid}.tmp` },
      { what: 'a key with a leading slash', key: `/${valid}` },
      { what: 'a key under another root', key: valid.replace('raw/', 'Raw/') },
      { what: 'a key one folder deeper', key: valid.replace('/10/', '/10/extra/') },
      { what: 'a key with a short year', key: valid.replace('raw/2026', 'raw/26') },
      { what: 'a key with no stream name', key: `raw/2026/11/27/10/-1-2026-11-27-10-15-42-${uuid}.gz` },
      { what: 'a key with no version', key: `raw/2026/11/27/10/usage-2026-11-27-10-15-42-${uuid}.gz` },
      { what: 'a key with version 0', key: valid.replace('usage-1-', 'usage-0-') },
      { what: 'a key with a zero-padded version', key: valid.replace('usage-1-', 'usage-01-') },
      { what: 'a key with a space in the stream name', key: valid.replace('usage', 'us age') },
      { what: 'a key with a uuid that is not one', key: valid.replace(uuid, uuid.slice(1)) },
      { what: 'a key with a non-hex uuid', key: valid.replace(uuid, uuid.replace('3f', 'zz')) },
      { what: 'a key with February 30th in the prefix', key: valid.replace('2026/11/27', '2026/02/30') },
      { what: 'a key with hour 24 in the prefix', key: valid.replace('/27/10/', '/27/24/') },
      { what: 'a key with month 13 in the timestamp', key: valid.replace('2026-11-27-10', '2026-13-27-10') },
      { what: 'a key with second 60 in the timestamp', key: valid.replace('10-15-42', '10-15-60') },
      {
        what: 'a key with a colon-separated timestamp',
        key: valid.replace('2026-11-27-10-15-42', '2026-11-27T10:15:42'),
      },
      { what: 'an empty string', key: '' },
    ];
    it('parses the reference key that the foreign ones are made from', () => {
      expect(parseLakeObjectKey(valid)).to.not.equal(undefined);
    });
    for (const { what, key } of foreign) {
      it(`rejects ${what}`, () => {
        expect(parseLakeObjectKey(key)).to.equal(undefined);
      });
    }
  });

  describe('hourPrefix', () => {
    it('turns an hour into the folder Firehose writes it to', () => {
      expect(hourPrefix('2026-11-27T10')).to.equal('raw/2026/11/27/10/');
      expect(hourPrefix('2028-02-29T00')).to.equal('raw/2028/02/29/00/');
    });

    it('is the prefix of every key written in that hour', () => {
      const key = lakeObjectKey({ stream: 'usage', arrival: d('2026-11-27T10:59:59.999Z'), uuid });
      expect(key.startsWith(hourPrefix('2026-11-27T10'))).to.equal(true);
    });

    it('refuses an invalid hour', () => {
      expect(thrownBy(() => hourPrefix('2026-11-27T24')).code).to.equal('INVALID_HOUR');
    });
  });

  describe('partitionsForPeriod', () => {
    const november = { from: d('2026-11-01T00:00:00Z'), to: d('2026-12-01T00:00:00Z') };

    it('lists the 720 hours of November 2026 plus the late-arrival window, and the hour before for early keys', () => {
      const prefixes = partitionsForPeriod(november.from, november.to, 6);
      expect(prefixes).to.have.length(1 + 720 + 6);
      expect(new Set(prefixes).size).to.equal(prefixes.length);
      expect([...prefixes].sort()).to.deep.equal(prefixes);
      expect(prefixes.slice(0, 2)).to.deep.equal(['raw/2026/10/31/23/', 'raw/2026/11/01/00/']);
      expect(prefixes.slice(-7)).to.deep.equal([
        'raw/2026/11/30/23/',
        'raw/2026/12/01/00/',
        'raw/2026/12/01/01/',
        'raw/2026/12/01/02/',
        'raw/2026/12/01/03/',
        'raw/2026/12/01/04/',
        'raw/2026/12/01/05/',
      ]);
    });

    it('lists exactly 720 hours plus the window for November 2026 when early keys are ruled out', () => {
      const prefixes = partitionsForPeriod(november.from, november.to, 6, { earlyArrivalMs: 0 });
      expect(prefixes).to.have.length(720 + 6);
      expect(prefixes[0]).to.equal('raw/2026/11/01/00/');
      expect(prefixes[prefixes.length - 1]).to.equal('raw/2026/12/01/05/');
      expect(partitionsForPeriod(november.from, november.to, 0, { earlyArrivalMs: 0 })).to.have.length(720);
    });

    it('crosses a year boundary', () => {
      expect(partitionsForPeriod(d('2026-12-31T22:00:00Z'), d('2027-01-01T02:00:00Z'), 2)).to.deep.equal([
        'raw/2026/12/31/21/',
        'raw/2026/12/31/22/',
        'raw/2026/12/31/23/',
        'raw/2027/01/01/00/',
        'raw/2027/01/01/01/',
        'raw/2027/01/01/02/',
        'raw/2027/01/01/03/',
      ]);
    });

    it('covers a leap day: February 2028 is 696 hours', () => {
      const prefixes = partitionsForPeriod(d('2028-02-01T00:00:00Z'), d('2028-03-01T00:00:00Z'), 0, {
        earlyArrivalMs: 0,
      });
      expect(prefixes).to.have.length(696);
      expect(prefixes).to.include('raw/2028/02/29/23/');
    });

    it('does not list the hour before a period that starts well after the hour', () => {
      expect(partitionsForPeriod(d('2026-11-27T10:30:00Z'), d('2026-11-27T11:30:00Z'), 0)).to.deep.equal([
        'raw/2026/11/27/10/',
        'raw/2026/11/27/11/',
      ]);
    });

    it('sizes the early margin from the clock skew validation allows plus one Firehose buffer', () => {
      expect(EARLY_ARRIVAL_MS).to.equal(MAX_FUTURE_SKEW_MS + FIREHOSE_MAX_BUFFER_MS);
    });

    // Where events of the period can have been delivered: each must be under a listed prefix.
    const deliveries: { what: string; ts: string; arrival: string }[] = [
      { what: 'on time', ts: '2026-11-15T12:00:00Z', arrival: '2026-11-15T12:01:00Z' },
      { what: 'at the very start', ts: '2026-11-01T00:00:00Z', arrival: '2026-11-01T00:00:30Z' },
      {
        what: 'at the very end, as late as the window allows',
        ts: '2026-11-30T23:59:59.999Z',
        arrival: '2026-12-01T05:59:59Z',
      },
      {
        what: 'from a producer whose clock runs 5 minutes fast',
        ts: '2026-11-01T00:04:00Z',
        arrival: '2026-10-31T23:59:00Z',
      },
      {
        what: "in an object keyed by an older record's arrival (15 minute buffer)",
        ts: '2026-11-01T00:04:00Z',
        arrival: '2026-10-31T23:44:00Z',
      },
    ];
    for (const { what, ts, arrival } of deliveries) {
      it(`lists the partition of an event delivered ${what}`, () => {
        const key = lakeObjectKey({ stream: 'usage', arrival: d(arrival), uuid });
        expect(Date.parse(ts)).to.be.within(november.from.getTime(), november.to.getTime() - 1);
        expect(Date.parse(arrival) - Date.parse(ts)).to.be.within(-EARLY_ARRIVAL_MS, 6 * HOUR - 1);
        expect(partitionsForPeriod(november.from, november.to, 6).some((p) => key.startsWith(p))).to.equal(
          true,
        );
      });
    }

    it('would miss the early-keyed event without the early margin (so the margin matters)', () => {
      const key = lakeObjectKey({ stream: 'usage', arrival: d('2026-10-31T23:59:00Z'), uuid });
      const withoutMargin = partitionsForPeriod(november.from, november.to, 6, { earlyArrivalMs: 0 });
      expect(withoutMargin.some((p) => key.startsWith(p))).to.equal(false);
    });

    it('lists nothing for an empty period', () => {
      expect(partitionsForPeriod(november.from, november.from, 6)).to.deep.equal([]);
    });

    const refused: { what: string; run: () => unknown; code: string }[] = [
      {
        what: 'a period that ends before it starts',
        run: () => partitionsForPeriod(november.to, november.from, 6),
        code: 'INVALID_PERIOD',
      },
      {
        what: 'an invalid date',
        run: () => partitionsForPeriod(d('nope'), november.to, 6),
        code: 'INVALID_PERIOD',
      },
      {
        what: 'a negative window',
        run: () => partitionsForPeriod(november.from, november.to, -1),
        code: 'INVALID_LATE_ARRIVAL_WINDOW',
      },
      {
        what: 'an infinite window',
        run: () => partitionsForPeriod(november.from, november.to, Infinity),
        code: 'INVALID_LATE_ARRIVAL_WINDOW',
      },
      {
        what: 'a negative early margin',
        run: () => partitionsForPeriod(november.from, november.to, 6, { earlyArrivalMs: -1 }),
        code: 'INVALID_EARLY_ARRIVAL',
      },
    ];
    for (const { what, run, code } of refused) {
      it(`refuses ${what} with ${code}`, () => {
        const err = thrownBy(run);
        expect(err.code).to.equal(code);
        expect(err.exitCode).to.equal(ExitCode.usage);
      });
    }
  });

  describe('quarantineKey', () => {
    it('files malformed events under quarantine/ by the hour they arrived, in UTC', () => {
      expect(quarantineKey({ arrival: d('2026-12-31T23:59:59.999Z'), uuid })).to.equal(
        `quarantine/2026/12/31/23/${uuid}.ndjson.gz`,
      );
    });

    it('is never mistaken for a raw lake key', () => {
      expect(parseLakeObjectKey(quarantineKey({ arrival: d('2026-11-27T10:00:00Z') }))).to.equal(undefined);
    });

    it('makes up a uuid when none is given', () => {
      expect(quarantineKey({ arrival: d('2026-11-27T10:00:00Z') })).to.match(
        /^quarantine\/2026\/11\/27\/10\/[0-9a-f-]{36}\.ndjson\.gz$/,
      );
    });

    it('refuses a uuid that could escape the prefix', () => {
      expect(
        thrownBy(() => quarantineKey({ arrival: d('2026-11-27T10:00:00Z'), uuid: '../raw/x' })).code,
      ).to.equal('INVALID_UUID');
    });
  });
});
