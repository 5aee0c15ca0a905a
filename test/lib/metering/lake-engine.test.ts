import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { expect } from 'chai';

import { HOUR_MS } from '../../../src/lib/metering/events.js';
import type { LakeAggregationRequest, LakeCell } from '../../../src/lib/metering/lake-aggregate.js';
import { CellTable, CellTranslator } from '../../../src/lib/metering/lake-cells.js';
import { aggregateLake, fileLakeSource } from '../../../src/lib/metering/lake-engine.js';
import { IdSet, packUuidString, UuidSet, uuidString } from '../../../src/lib/metering/lake-ids.js';
import { lakeObjectKey } from '../../../src/lib/metering/lake-layout.js';
import { LakeObjectParser, type ParsedObject } from '../../../src/lib/metering/lake-parse.js';
import { DEFAULT_METRICS, MetricRegistry } from '../../../src/lib/metering/metrics.js';

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

/** Each event's id, packed or not, as a string. */
function idsOf(parsed: ParsedObject): string[] {
  const others = new Map<number, string>();
  parsed.others.forEach((event, j) => {
    const start = j === 0 ? 0 : parsed.otherEnds[j - 1];
    others.set(event, Buffer.from(parsed.otherIds).toString('latin1', start, parsed.otherEnds[j]));
  });
  return Array.from({ length: parsed.count }, (_, i) => others.get(i) ?? uuidString(parsed.uuids, 4 * i));
}

/** The events a parsed object holds, readable: [cell key, eventId, quantity]. */
function eventsOf(lines: readonly string[], tenantId?: string) {
  // A new parser names every cell it numbers in its first object, from 0.
  const parsed = parser(tenantId).parse(gz(lines), ARRIVAL);
  expect(parsed.names).to.include({ firstPair: 0, firstCell: 0 });
  const ids = idsOf(parsed);
  const events = Array.from({ length: parsed.count }, (_, i): [string, string, number] => {
    const { tenants, metrics, cellPairs, cellHours } = parsed.names;
    const [pair, hour] = [cellPairs[parsed.cell[i]], cellHours[parsed.cell[i]]];
    const key = `${tenants[pair]}|${metrics[pair]}|${new Date(hour * HOUR_MS).toISOString().slice(0, 13)}`;
    return [key, ids[i], parsed.quantity[i]];
  });
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

describe('lake object parser: fast path details', () => {
  const uuid = '0f60c6f0-4c28-453e-9442-0582694fbeb4';

  it('packs lowercase UUID ids on both paths and keeps every other spelling by its bytes', () => {
    const { parsed, events } = eventsOf([
      JSON.stringify(event(1, { eventId: uuid })),
      `{ "eventId": "${uuid}", "tenantId": "acme", "metric": "api.call", "quantity": 2, "ts": "2026-11-01T10:15:00.000Z" }`,
      JSON.stringify(event(2, { eventId: uuid.toUpperCase() })),
      JSON.stringify(event(3, { eventId: `${uuid}-2` })),
      JSON.stringify(event(4, { eventId: 'x' })),
    ]);
    expect(events.map((e) => e[1])).to.deep.equal([uuid, uuid, uuid.toUpperCase(), `${uuid}-2`, 'x']);
    expect([...parsed.others]).to.deep.equal([2, 3, 4]);
  });

  it("reads each timestamp in full, even when its hour is the line before's", () => {
    const ts = (n: number, value: string) => JSON.stringify(event(n, { ts: value }));
    const { parsed, events } = eventsOf([
      ts(1, '2026-11-01T10:15:00.000Z'),
      ts(2, '2026-11-01T10:59:59Z'),
      ts(3, '2026-11-01T10:00:00.001Z'),
      ts(4, '2026-11-01T11:00:00.000Z'),
      ts(5, '2026-11-01T10:30:00.000Z'),
      // Malformed, though their hour was just read well.
      ts(6, '2026-11-01T10:60:00.000Z'),
      ts(7, '2026-11-01T10:00:60Z'),
      ts(8, '2026-11-01T10:1a:00.000Z'),
      ts(9, '2026-11-01T10:15:00.00aZ'),
      ts(10, '2026-11-01T10:15:00,000Z'),
      ts(11, '2026-11-01T10:15:00.000z'),
      ts(12, '2026-11-01T10:15:00.0000Z'),
      // An escape: the general path decodes it to a good timestamp.
      ts(13, '2026-11-01T10:15:00.000Z').replace('00.000Z', '00.00\\u0030Z'),
    ]);
    expect(events.map((e) => [e[0].slice(-2), e[1]])).to.deep.equal([
      ['10', 'ev-1'],
      ['10', 'ev-2'],
      ['10', 'ev-3'],
      ['11', 'ev-4'],
      ['10', 'ev-5'],
      ['10', 'ev-13'],
    ]);
    expect(parsed.malformed).to.equal(7);
  });

  it('reads quantities as JSON.parse does', () => {
    const values = [
      '0',
      '7',
      '0.1',
      '12.345',
      '3.0',
      '999999999999.999',
      '0.000000000000001',
      '1e3',
      '2.5E-1',
    ];
    const { events } = eventsOf(
      values.map((q, n) =>
        JSON.stringify(event(n, { metric: 'storage.gb', quantity: 0 })).replace(':0,', `:${q},`),
      ),
    );
    expect(events.map((e) => e[2])).to.deep.equal(values.map((q) => JSON.parse(q) as number));
  });

  it('judges each tenant and metric once, and the same on every line', () => {
    const lines = [
      JSON.stringify(event(1)),
      JSON.stringify(event(2, { tenantId: 'ab' })),
      JSON.stringify(event(3, { tenantId: 'acme', metric: 'gpu.hours' })),
      JSON.stringify(event(4, { tenantId: 'acme-' })),
      JSON.stringify(event(5, { tenantId: 'ACME' })),
      JSON.stringify(event(6, { tenantId: 'ac\u0000me' })),
      // The tenant escaped: the general path reads it as acme.
      JSON.stringify(event(7)).replace('"acme"', '"\\u0061cme"'),
    ];
    const { parsed, events } = eventsOf([...lines, ...lines]);
    expect(events.map((e) => e[1])).to.deep.equal(['ev-1', 'ev-7', 'ev-1', 'ev-7']);
    expect(events.every((e) => e[0] === 'acme|api.call|2026-11-01T10')).to.equal(true);
    expect(parsed.malformed).to.equal(10);
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

  it('keeps every id as it grows', () => {
    const set = new IdSet();
    for (let i = 0; i < 20_000; i++)
      expect(set.add(i % 97, bytes(`id-${i}`), 0, `id-${i}`.length)).to.equal(true);
    for (let i = 0; i < 20_000; i += 7)
      expect(set.add(i % 97, bytes(`id-${i}`), 0, `id-${i}`.length)).to.equal(false);
    expect(set.size).to.equal(20_000);
  });
});

describe('packed UUIDs (UuidSet)', () => {
  const uuid = '0f60c6f0-4c28-453e-9442-0582694fbeb4';

  function packed(id: string): Int32Array {
    const words = new Int32Array(4);
    expect(packUuidString(id, words, 0), id).to.equal(true);
    return words;
  }

  it('packs only lowercase UUIDs with their hyphens in place, one to one', () => {
    for (const id of [uuid, '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff']) {
      expect(uuidString(packed(id), 0)).to.equal(id);
    }
    for (const other of [
      uuid.toUpperCase(),
      uuid.replace('-4c28', '4-c28'),
      uuid.replace('f', 'g'),
      `{${uuid.slice(1, 35)}}`,
      uuid.slice(0, 35),
      `${uuid}0`,
    ]) {
      expect(packUuidString(other, new Int32Array(4), 0), other).to.equal(false);
    }
  });

  it('holds each UUID once, the all-zero one included, and keeps them all as it grows', () => {
    const set = new UuidSet();
    const zero = packed('00000000-0000-0000-0000-000000000000');
    expect(set.add(zero, 0)).to.equal(true);
    expect(set.add(zero, 0)).to.equal(false);
    const words = new Int32Array(4 * 30_000);
    for (let i = 0; i < 30_000; i++) {
      // Ids alike but for one word, in turn, so no single word tells them apart.
      words.set([i % 3 === 0 ? i : 7, i % 3 === 1 ? i : 7, i % 3 === 2 ? i : 7, -1], 4 * i);
      expect(set.add(words, 4 * i)).to.equal(true);
    }
    for (let i = 0; i < 30_000; i += 3) expect(set.add(words, 4 * i)).to.equal(false);
    expect(set.size).to.equal(30_001);
  });
});

describe('cell numbers across objects and threads', () => {
  const registry = new MetricRegistry();
  const hour10 = Date.parse('2026-11-01T10:00:00Z') / HOUR_MS;

  it('a parser numbers pairs and cells across its objects and names each once', () => {
    const p = parser();
    const first = p.parse(
      gz([JSON.stringify(event(1)), JSON.stringify(event(2, { tenantId: 'globex' }))]),
      ARRIVAL,
    );
    expect(first.names).to.deep.equal({
      firstPair: 0,
      tenants: ['acme', 'globex'],
      metrics: ['api.call', 'api.call'],
      firstCell: 0,
      cellPairs: [0, 1],
      cellHours: [hour10, hour10],
    });
    expect([...first.cell]).to.deep.equal([0, 1]);
    // The same cells again, by number only; a new one (another hour) gets the next number.
    const second = p.parse(
      gz([
        JSON.stringify(event(3, { tenantId: 'globex' })),
        JSON.stringify(event(4, { ts: '2026-11-01T11:00:00.000Z' })),
        // The general path's lines share the fast path's numbers.
        '{ "eventId": "ev-5", "tenantId": "acme", "metric": "api.call", "quantity": 1, "ts": "2026-11-01T10:20:00Z" }',
        // A new pair, named by the general path first, then met on the fast path.
        '{"metric":"storage.gb","eventId":"ev-6","tenantId":"acme","quantity":1,"ts":"2026-11-01T10:20:00Z"}',
        JSON.stringify(event(7, { metric: 'storage.gb' })),
      ]),
      ARRIVAL,
    );
    expect(second.names).to.deep.equal({
      firstPair: 2,
      tenants: ['acme'],
      metrics: ['storage.gb'],
      firstCell: 2,
      cellPairs: [0, 2],
      cellHours: [hour10 + 1, hour10],
    });
    expect([...second.cell]).to.deep.equal([1, 2, 0, 3, 3]);
    // An object that names nothing new.
    const third = p.parse(gz([JSON.stringify(event(8))]), ARRIVAL);
    expect(third.names).to.deep.equal({
      firstPair: 3,
      tenants: [],
      metrics: [],
      firstCell: 4,
      cellPairs: [],
      cellHours: [],
    });
  });

  it("maps each parser's numbers to the same cells, whichever parser named a cell first", () => {
    const table = new CellTable(registry);
    // Two parsers, as a worker thread and the calling thread are: each numbers cells its own way.
    const worker = parser();
    const inline = parser();
    const workerCells = new CellTranslator(table);
    const inlineCells = new CellTranslator(table);
    const a = inline.parse(gz([JSON.stringify(event(1))]), ARRIVAL);
    inlineCells.translate(a);
    // The worker meets a cell the table has not seen (globex) and one it has (acme), in that order.
    const b = worker.parse(
      gz([JSON.stringify(event(2, { tenantId: 'globex' })), JSON.stringify(event(3))]),
      ARRIVAL,
    );
    expect([...b.cell]).to.deep.equal([0, 1]);
    workerCells.translate(b);
    expect([...a.cell, ...b.cell]).to.deep.equal([0, 1, 0]);
    const c = inline.parse(
      gz([JSON.stringify(event(4, { tenantId: 'globex', metric: 'storage.gb' }))]),
      ARRIVAL,
    );
    const d = worker.parse(gz([JSON.stringify(event(5, { tenantId: 'globex' }))]), ARRIVAL);
    inlineCells.translate(c);
    workerCells.translate(d);
    expect([...c.cell, ...d.cell]).to.deep.equal([2, 1]);
    expect(table.size).to.equal(3);
    expect(table.name(1)).to.deep.equal({ tenantId: 'globex', metric: 'api.call', hour: '2026-11-01T10' });
    expect([table.isMax[0], table.isMax[2]]).to.deep.equal([0, 1]);
  });

  it('refuses an object out of order or a pair or cell never named, rather than miscount', () => {
    const p = parser();
    const first = p.parse(gz([JSON.stringify(event(1))]), ARRIVAL);
    const second = p.parse(gz([JSON.stringify(event(2, { tenantId: 'globex' }))]), ARRIVAL);
    expect(() => new CellTranslator(new CellTable(registry)).translate(second)).to.throw(/out of order/);
    const noCells: ParsedObject = { ...first, names: { ...first.names, cellPairs: [], cellHours: [] } };
    expect(() => new CellTranslator(new CellTable(registry)).translate(noCells)).to.throw(
      /cell 0 before naming/,
    );
    const noPairs: ParsedObject = { ...first, names: { ...first.names, tenants: [], metrics: [] } };
    expect(() => new CellTranslator(new CellTable(registry)).translate(noPairs)).to.throw(
      /pair 0 before naming/,
    );
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

  it('dedups UUID ids exactly across objects, threads and line layouts', async () => {
    const uuid = (n: number) => `${String(n).padStart(8, '0')}-4c28-453e-9442-0582694fbeb4`;
    await put('2026-11-01T10:15:02Z', [event(1, { eventId: uuid(1) }), event(2, { eventId: uuid(2) })]);
    await put(
      '2026-11-01T10:30:00Z',
      // The copy of uuid(1) in upper case is another id; uuid(2) comes again in another layout.
      [event(3, { eventId: uuid(1).toUpperCase() }), event(4, { eventId: uuid(3) })],
      [
        `{"tenantId":"acme","eventId":"${uuid(2)}","metric":"api.call","quantity":2,"ts":"2026-11-01T10:15:00.000Z"}`,
      ],
    );
    await put('2026-11-01T10:45:00Z', [event(5, { eventId: uuid(3) }), event(6, { eventId: uuid(1) })]);
    for (const workers of [0, 1, 2]) {
      const result = await aggregateLake(fileLakeSource(root), request, { workers, inlineBelow: 0 });
      expect(byCell(result.cells), `workers ${workers}`).to.deep.equal({
        'acme|api.call|2026-11-01T10': [8, 4],
      });
      expect(result).to.include({ events: 4, duplicates: 3 });
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
