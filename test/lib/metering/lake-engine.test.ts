import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { expect } from 'chai';

import { HOUR_MS } from '../../../src/lib/metering/events.js';
import type { LakeAggregationRequest, LakeCell } from '../../../src/lib/metering/lake-aggregate.js';
import { aggregateLake, fileLakeSource, IdSet } from '../../../src/lib/metering/lake-engine.js';
import { lakeObjectKey } from '../../../src/lib/metering/lake-layout.js';
import { LakeObjectParser } from '../../../src/lib/metering/lake-parse.js';
import { DEFAULT_METRICS } from '../../../src/lib/metering/metrics.js';

const FROM = Date.parse('2026-11-01T00:00:00Z');
const TO = Date.parse('2026-11-02T00:00:00Z');
const ARRIVAL = new Date('2026-11-01T12:00:00Z');

function event(n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventId: `ev-${n}`,
    tenantId: 'acme',
    metric: 'api.call',
    quantity: 2,
    ts: '2026-11-01T10:15:00.000Z',
    ...overrides,
  };
}

function gz(lines: readonly string[]): Uint8Array {
  return gzipSync(lines.join('\n') + '\n');
}

function parser(tenantId?: string): LakeObjectParser {
  return new LakeObjectParser({ from: FROM, to: TO, metrics: DEFAULT_METRICS, tenantId });
}

/** The events a parsed object holds, readable: [cell key, eventId, quantity]. */
function eventsOf(lines: readonly string[], tenantId?: string) {
  const parsed = parser(tenantId).parse(gz(lines), ARRIVAL);
  const ids = Buffer.from(parsed.ids);
  const events = Array.from({ length: parsed.count }, (_, i) => [
    parsed.groups[parsed.group[i]].split('\u0000').join('|'),
    ids.toString('latin1', i === 0 ? 0 : parsed.idEnds[i - 1], parsed.idEnds[i]),
    parsed.quantity[i],
  ]);
  return { parsed, events };
}

describe('lake object parser', () => {
  it('reads canonical lines (as JSON.stringify writes them) into cells by tenant, metric and hour', () => {
    const { parsed, events } = eventsOf([
      JSON.stringify(event(1)),
      JSON.stringify(event(2, { metric: 'storage.gb', quantity: 12.5, ts: '2026-11-01T11:59:59Z' })),
      JSON.stringify(event(3, { tenantId: 'globex', quantity: 1e3 })),
    ]);
    expect(events).to.deep.equal([
      ['acme|api.call|2026-11-01T10', 'ev-1', 2],
      ['acme|storage.gb|2026-11-01T11', 'ev-2', 12.5],
      ['globex|api.call|2026-11-01T10', 'ev-3', 1000],
    ]);
    expect(parsed).to.include({ lines: 3, malformed: 0, outsidePeriod: 0 });
  });

  it('gives the same events for any other JSON layout of the same event (spaces, key order, escapes)', () => {
    const canonical = eventsOf([JSON.stringify(event(1)), JSON.stringify(event(2, { quantity: 0.5 }))]);
    const other = eventsOf([
      '{ "eventId": "ev-1", "tenantId": "acme", "metric": "api.call", "quantity": 2, "ts": "2026-11-01T10:15:00.000Z" }',
      '{"ts":"2026-11-01T10:15:00.000Z","quantity":5e-1,"metric":"api.call","tenantId":"acme","eventId":"ev-2","extra":[1]}',
    ]);
    expect(other.events).to.deep.equal(canonical.events);
    // An escaped character is still the same timestamp once decoded, as the aggregator reads it.
    const escaped = eventsOf([JSON.stringify(event(1)).replace('2026-11-01T10', '2026-11-01T1\\u0030')]);
    expect(escaped.events).to.deep.equal([canonical.events[0]]);
  });

  it('counts as malformed every line the aggregator refuses, canonical or not', () => {
    const bad = [
      'not json',
      '{"eventId":"ev-1"',
      JSON.stringify(event(1, { eventId: '' })),
      JSON.stringify(event(2, { eventId: 'x'.repeat(129) })),
      JSON.stringify(event(3, { eventId: 'has space' })),
      JSON.stringify(event(4, { tenantId: 'ab' })),
      JSON.stringify(event(5, { tenantId: 'Acme' })),
      JSON.stringify(event(6, { metric: 'gpu.hours' })),
      JSON.stringify(event(7, { quantity: -1 })),
      JSON.stringify(event(8, { quantity: '2' })),
      JSON.stringify(event(9, { quantity: 2e12 })),
      JSON.stringify(event(10, { ts: '2026-11-31T10:00:00Z' })),
      JSON.stringify(event(11, { ts: '2026-11-01T24:00:00Z' })),
      JSON.stringify(event(12, { ts: '2026-11-01T10:00:00+01:00' })),
      // More than five minutes past the latest arrival the object allows.
      JSON.stringify(event(13, { ts: '2026-11-01T12:05:01.000Z' })),
      '[1,2]',
    ];
    const { parsed, events } = eventsOf(bad);
    expect(events).to.deep.equal([]);
    expect(parsed).to.include({ lines: bad.length, malformed: bad.length });
  });

  it('accepts the boundary values the aggregator accepts', () => {
    const { events, parsed } = eventsOf([
      JSON.stringify(event(1, { eventId: 'x'.repeat(128), quantity: 1e12 })),
      JSON.stringify(event(2, { metric: 'storage.gb', quantity: 5e12 })),
      JSON.stringify(event(3, { ts: '2026-11-01T12:05:00.000Z' })),
      JSON.stringify(event(4, { quantity: 0 })),
    ]);
    expect(parsed.malformed).to.equal(0);
    expect(events.map((e) => e[2])).to.deep.equal([1e12, 5e12, 2, 0]);
  });

  it('sets aside events outside the period, skips blank lines, and keeps only the tenant asked for', () => {
    const { parsed, events } = eventsOf(
      [
        JSON.stringify(event(1, { ts: '2026-10-31T23:59:59.999Z' })),
        '',
        '   \r',
        JSON.stringify(event(2)),
        JSON.stringify(event(3, { tenantId: 'globex' })),
      ],
      'globex',
    );
    expect(events.map((e) => e[1])).to.deep.equal(['ev-3']);
    expect(parsed).to.include({ lines: 3, outsidePeriod: 1, malformed: 0 });
  });
});

describe('IdSet', () => {
  const bytes = (id: string) => Buffer.from(id, 'latin1');

  it('tells ids apart by their bytes even when their hashes collide', () => {
    const set = new IdSet();
    expect(set.add(7, bytes('a'), 0, 1)).to.equal(true);
    expect(set.add(7, bytes('b'), 0, 1)).to.equal(true);
    expect(set.add(7, bytes('ab'), 0, 2)).to.equal(true);
    expect(set.add(7, bytes('a'), 0, 1)).to.equal(false);
    expect(set.add(7, bytes('xab'), 1, 3)).to.equal(false);
    expect(set.size).to.equal(3);
  });

  it('packs lowercase UUIDs and still tells every other spelling apart', () => {
    const set = new IdSet();
    const uuid = '0f60c6f0-4c28-453e-9442-0582694fbeb4';
    const add = (id: string) => set.add(1, bytes(id), 0, id.length);
    expect(add(uuid)).to.equal(true);
    expect(add(uuid)).to.equal(false);
    // Same hash, other spellings: upper case, braces, a hyphen moved, one digit off.
    expect(add(uuid.toUpperCase())).to.equal(true);
    expect(add(uuid.replace('-4c28', '4-c28'))).to.equal(true);
    expect(add(uuid.slice(0, 35) + '5')).to.equal(true);
    expect(add(uuid.toUpperCase())).to.equal(false);
    expect(set.size).to.equal(4);
  });

  it('keeps every id as it grows', () => {
    const set = new IdSet();
    for (let i = 0; i < 20_000; i++)
      expect(set.add(i % 97, bytes(`id-${i}`), 0, `id-${i}`.length)).to.equal(true);
    for (let i = 0; i < 20_000; i += 7)
      expect(set.add(i % 97, bytes(`id-${i}`), 0, `id-${i}`.length)).to.equal(false);
    expect(set.size).to.equal(20_000);
  });
});

describe('stream engine (aggregateLake)', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'saasctl-lake-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function put(arrival: string, events: readonly Record<string, unknown>[], raw: string[] = []) {
    const key = lakeObjectKey({ stream: 'usage', arrival: new Date(arrival) });
    await mkdir(path.join(root, path.dirname(key)), { recursive: true });
    const file = path.join(root, key);
    await writeFile(file, gz([...events.map((e) => JSON.stringify(e)), ...raw]));
    // Written when it arrived, as Firehose writes it (a file's mtime is its LastModified).
    await utimes(file, new Date(arrival), new Date(arrival));
    return key;
  }

  const request: LakeAggregationRequest = {
    from: new Date(FROM),
    to: new Date(TO),
    lateArrivalHours: 24,
  };

  function byCell(cells: readonly LakeCell[]) {
    return Object.fromEntries(
      cells.map((c) => [`${c.tenantId}|${c.metric}|${c.hour}`, [c.quantity, c.events]]),
    );
  }

  it('sums, maxes and dedups by eventId across objects, the same on worker threads and inline', async () => {
    await put('2026-11-01T10:15:02Z', [
      event(1),
      event(2, { quantity: 3 }),
      event(3, { metric: 'storage.gb', quantity: 10 }),
    ]);
    // Firehose redelivered ev-2 into the next object; a late storage sample is lower.
    await put(
      '2026-11-01T10:30:00Z',
      [event(2, { quantity: 3 }), event(4, { metric: 'storage.gb', quantity: 4 })],
      ['garbage'],
    );
    await put('2026-11-01T14:00:00Z', [event(5, { tenantId: 'globex', ts: '2026-11-01T13:59:00.000Z' })]);
    const expected = {
      'acme|api.call|2026-11-01T10': [5, 2],
      'acme|storage.gb|2026-11-01T10': [10, 2],
      'globex|api.call|2026-11-01T13': [2, 1],
    };
    for (const workers of [0, 2]) {
      const result = await aggregateLake(fileLakeSource(root), request, { workers, inlineBelow: 0 });
      expect(byCell(result.cells), `workers ${workers}`).to.deep.equal(expected);
      expect(result).to.include({ objects: 3, events: 5, duplicates: 1, malformed: 1, outsidePeriod: 0 });
    }
  });

  it('reads the late window past the period and the early margin before it, and nothing else', async () => {
    await put('2026-10-31T23:50:00Z', [event(1, { ts: '2026-11-01T00:01:00.000Z' })]);
    await put('2026-11-02T20:00:00Z', [event(2, { ts: '2026-11-01T23:00:00.000Z' })]);
    await put('2026-11-03T05:00:00Z', [event(3, { ts: '2026-11-01T23:00:00.000Z' })]);
    const result = await aggregateLake(fileLakeSource(root), request, { workers: 0 });
    expect(result.events).to.equal(2);
    expect(result.objects).to.equal(2);
  });

  it('counts a very late copy of an on-time event once, and a very late new event once', async () => {
    // Hour 01's on-time window ends at partition 2026-11-01T03 with a 2-hour late window.
    await put('2026-11-01T01:10:00Z', [event(1, { ts: '2026-11-01T01:05:00.000Z' })]);
    await put('2026-11-01T02:00:00Z', [event(9, { ts: '2026-11-01T01:59:00.000Z' })]);
    await put('2026-11-01T06:00:00Z', [
      event(1, { ts: '2026-11-01T01:05:00.000Z' }),
      event(2, { ts: '2026-11-01T01:06:00.000Z', quantity: 5 }),
      event(2, { ts: '2026-11-01T01:06:00.000Z', quantity: 5 }),
    ]);
    await put('2026-11-01T09:00:00Z', [event(2, { ts: '2026-11-01T01:06:00.000Z', quantity: 5 })]);
    for (const workers of [0, 1]) {
      const result = await aggregateLake(
        fileLakeSource(root),
        { ...request, lateArrivalHours: 2 },
        { workers, concurrency: 1, inlineBelow: 0 },
      );
      expect(byCell(result.cells), `workers ${workers}`).to.deep.equal({
        'acme|api.call|2026-11-01T01': [2 + 2 + 5, 3],
      });
      expect(result).to.include({ events: 3, duplicates: 3 });
    }
  });

  it('lists apart the usage that arrived after its hour was last reconciled', async () => {
    const hour10 = Date.parse('2026-11-01T10:00:00Z');
    await put('2026-11-01T10:20:00Z', [event(1)]);
    await put('2026-11-01T13:00:00Z', [
      event(2, { quantity: 7 }),
      event(3, { ts: '2026-11-01T12:10:00.000Z' }),
    ]);
    const result = await aggregateLake(
      fileLakeSource(root),
      // Hour 10 was reconciled at 12:00; hour 12 never was.
      { ...request, reconciledAt: new Map([[hour10, hour10 + 2 * HOUR_MS]]) },
      { workers: 0 },
    );
    expect(result.arrivedAfterReconcile).to.deep.equal([
      { tenantId: 'acme', metric: 'api.call', hour: '2026-11-01T10', quantity: 7, events: 1 },
    ]);
  });

  it('reports keys outside the Firehose layout without reading them', async () => {
    await mkdir(path.join(root, 'raw/2026/11/01/10'), { recursive: true });
    await writeFile(path.join(root, 'raw/2026/11/01/10/notes.txt'), 'hello');
    await put('2026-11-01T10:20:00Z', [event(1)]);
    const result = await aggregateLake(fileLakeSource(root), request, { workers: 0 });
    expect(result.foreignKeys).to.deep.equal(['raw/2026/11/01/10/notes.txt']);
    expect(result.objects).to.equal(1);
  });

  it('fails with the object named when one is not gzip', async () => {
    const key = lakeObjectKey({ stream: 'usage', arrival: new Date('2026-11-01T10:20:00Z') });
    await mkdir(path.join(root, path.dirname(key)), { recursive: true });
    await writeFile(path.join(root, key), 'plain text');
    let error: unknown;
    try {
      await aggregateLake(fileLakeSource(root), request, { workers: 1, inlineBelow: 0 });
    } catch (err) {
      error = err;
    }
    expect(error).to.include({ code: 'LAKE_OBJECT_UNREADABLE' });
    expect(String(error)).to.include(`Could not read lake object ${key}: `);
  });
});
