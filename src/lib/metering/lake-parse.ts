import { gunzipSync } from 'node:zlib';

import { tenantIdProblem } from '../tenants/model.js';
import {
  daysInMonth,
  HOUR_MS,
  hourOfDate,
  MAX_FUTURE_SKEW_MS,
  MAX_SUM_QUANTITY,
  parseTimestamp,
  validateEvent,
} from './events.js';
import { MetricRegistry } from './metrics.js';
import type { MetricDefinition } from './types.js';

/**
 * The CPU-bound half of the stream engine: one lake object's bytes in, its valid in-period
 * events out in columns. It runs in worker threads (lake-worker.ts) or inline, and holds no
 * state between objects, so any object can go to any thread. Deduplication is not done here:
 * it needs every object's events, and happens where the columns meet (lake-engine.ts).
 */
export interface ParseSettings {
  /** Epoch milliseconds of the period: [from, to). */
  readonly from: number;
  readonly to: number;
  readonly tenantId?: string;
  readonly metrics: readonly MetricDefinition[];
}

/**
 * One object's events as columns, cheap to move between threads (the typed arrays are
 * transferred, not copied). Event i belongs to cell `groups[group[i]]`, whose key is
 * `tenantId \0 metric \0 hour`; its eventId is the latin1 bytes `ids[idEnds[i-1] .. idEnds[i])`
 * (event ids are ASCII by rule), and `hashes[i]` is their FNV-1a hash.
 */
export interface ParsedObject {
  readonly groups: string[];
  readonly count: number;
  readonly group: Uint32Array;
  readonly quantity: Float64Array;
  readonly hashes: Uint32Array;
  readonly ids: Uint8Array;
  readonly idEnds: Uint32Array;
  readonly lines: number;
  readonly malformed: number;
  readonly outsidePeriod: number;
}

/** A line's fields, as the fast path reads them. */
interface Fields {
  eventId: string;
  idStart: number;
  idEnd: number;
  /** FNV-1a of the id's bytes, computed while they were scanned. */
  idHash: number;
  tenantId: string;
  metric: string;
  /** Numbers for the tenant and metric, stable across the parser's objects (-1: not numbered). */
  tenant: number;
  metricNumber: number;
  quantity: number;
  ts: number;
}

const NEWLINE = 10;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const QUOTE = 34;
const BACKSLASH = 92;

// The canonical line, as JSON.stringify writes an event: these separators, in this order.
const EVENT_ID_OPEN = bytes('{"eventId":"');
const TENANT_OPEN = bytes('","tenantId":"');
const METRIC_OPEN = bytes('","metric":"');
const QUANTITY_OPEN = bytes('","quantity":');
const TS_OPEN = bytes(',"ts":"');
const CLOSE = bytes('"}');

// Bytes allowed in an event id (A-Z a-z 0-9 . _ : -), a tenant id and a metric name.
const ID_BYTE = byteClass('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-');
const TENANT_BYTE = byteClass('abcdefghijklmnopqrstuvwxyz0123456789-');
const METRIC_BYTE = byteClass('abcdefghijklmnopqrstuvwxyz0123456789.');

/** A line that is not an event the aggregator would have counted. */
const MALFORMED = 'malformed';
/** A line not in the canonical form: the general path (JSON.parse and validateEvent) decides. */
const GENERAL = 'general';

export class LakeObjectParser {
  private readonly registry: MetricRegistry;
  private readonly fields: Fields = {
    eventId: '',
    idStart: 0,
    idEnd: 0,
    idHash: 0,
    tenantId: '',
    metric: '',
    tenant: -1,
    metricNumber: -1,
    quantity: 0,
    ts: 0,
  };
  private readonly tenantNames = new ByteNames(1_000_000);
  private readonly validTenant = (name: string): boolean => tenantIdProblem(name) === undefined;
  private readonly validMetric = (name: string): boolean => this.registry.get(name) !== undefined;
  private readonly metricNames = new ByteNames(1_000);
  private readonly numbers = { tenants: new Map<string, number>(), metrics: new Map<string, number>() };
  private readonly hours = new Map<number, string>();

  constructor(private readonly settings: ParseSettings) {
    this.registry = new MetricRegistry(settings.metrics);
  }

  /**
   * Gunzips and parses one object. `arrival` is the latest time a record in it can have
   * arrived: a ts more than five minutes past it is malformed, as the aggregator found it.
   */
  parse(gzipped: Uint8Array, arrival: Date): ParsedObject {
    const text = gunzipSync(gzipped, { chunkSize: outputChunk(gzipped) });
    const { from, to, tenantId } = this.settings;
    // About 130 bytes a line: room for the lines without regrowing.
    const columns = new Columns(Math.max(1024, Math.ceil(text.length / 100)));
    const now = arrival.getTime();
    let lines = 0;
    let malformed = 0;
    let outsidePeriod = 0;

    for (let start = 0; start < text.length;) {
      let end = text.indexOf(NEWLINE, start);
      if (end === -1) end = text.length;
      const lineStart = start;
      start = end + 1;
      if (isBlank(text, lineStart, end)) continue;
      lines++;
      let outcome = this.canonical(text, lineStart, end, now);
      if (outcome === GENERAL) outcome = this.general(text.toString('utf8', lineStart, end), arrival);
      if (outcome === MALFORMED) {
        malformed++;
        continue;
      }
      const event = this.fields;
      if (event.ts < from || event.ts >= to) {
        outsidePeriod++;
        continue;
      }
      if (tenantId !== undefined && event.tenantId !== tenantId) continue;
      const group = columns.groupOf(
        this.number(event),
        event.metricNumber >= 0 ? event.metricNumber : this.metricNumber(event.metric),
        Math.floor(event.ts / HOUR_MS),
        () => `${event.tenantId}\u0000${event.metric}\u0000${this.hourName(event.ts)}`,
      );
      if (outcome === 'canonical')
        columns.push(group, event.quantity, text, event.idStart, event.idEnd, event.idHash);
      else columns.pushString(group, event.quantity, event.eventId);
    }
    return { ...columns.finish(), lines, malformed, outsidePeriod };
  }

  /**
   * The fast path, for lines exactly as JSON.stringify writes an event (every line saasctl and
   * its emitter produce): the fields are read from the bytes, with no JSON.parse and no
   * strings but the tenant and metric. It accepts exactly what validateEvent accepts of such a
   * line; any other shape (spaces, escapes, other key orders, extra keys) goes the general way.
   */
  private canonical(text: Buffer, start: number, end: number, now: number): string {
    if (end > start && text[end - 1] === 13) end--;
    let at = expect(text, start, EVENT_ID_OPEN);
    if (at < 0) return GENERAL;
    // Each field's bytes are checked and hashed in one pass.
    const idStart = at;
    let idHash = FNV_OFFSET;
    for (let c = text[at]; at < end && ID_BYTE[c]; c = text[++at]) idHash = Math.imul(idHash ^ c, FNV_PRIME);
    const idEnd = at;
    at = expect(text, at, TENANT_OPEN);
    if (at < 0) return GENERAL;
    if (idEnd === idStart || idEnd - idStart > 128) return MALFORMED;
    const tenantStart = at;
    let tenantHash = FNV_OFFSET;
    for (let c = text[at]; at < end && TENANT_BYTE[c]; c = text[++at]) {
      tenantHash = Math.imul(tenantHash ^ c, FNV_PRIME);
    }
    const tenantEnd = at;
    at = expect(text, at, METRIC_OPEN);
    if (at < 0) return GENERAL;
    const metricStart = at;
    let metricHash = FNV_OFFSET;
    for (let c = text[at]; at < end && METRIC_BYTE[c]; c = text[++at]) {
      metricHash = Math.imul(metricHash ^ c, FNV_PRIME);
    }
    const metricEnd = at;
    at = expect(text, at, QUANTITY_OPEN);
    if (at < 0) return GENERAL;
    const quantityStart = at;
    at = jsonNumberEnd(text, at, end);
    if (at < 0) return GENERAL;
    const quantityEnd = at;
    at = expect(text, at, TS_OPEN);
    if (at < 0) return GENERAL;
    const tsStart = at;
    while (at < end && text[at] !== QUOTE && text[at] !== BACKSLASH) at++;
    if (expect(text, at, CLOSE) !== end) return GENERAL;

    const fields = this.fields;
    const tenant = this.tenantNames.find(text, tenantStart, tenantEnd, tenantHash, this.validTenant);
    if (tenant === undefined) return GENERAL;
    if (!tenant.valid) return MALFORMED;
    const metric = this.metricNames.find(text, metricStart, metricEnd, metricHash, this.validMetric);
    if (metric === undefined) return GENERAL;
    if (!metric.valid) return MALFORMED;
    const definition = this.registry.get(metric.name)!;
    const quantity = jsonNumberValue(text, quantityStart, quantityEnd);
    if (!Number.isFinite(quantity) || quantity < 0) return MALFORMED;
    if (definition.aggregation === 'sum' && quantity > MAX_SUM_QUANTITY) return MALFORMED;
    const ts = timestampOf(text, tsStart, at);
    if (ts === GENERAL_TIMESTAMP) return GENERAL;
    if (ts === undefined || ts - now > MAX_FUTURE_SKEW_MS) return MALFORMED;

    fields.idStart = idStart;
    fields.idEnd = idEnd;
    fields.idHash = idHash;
    fields.tenantId = tenant.name;
    fields.tenant = tenant.index;
    fields.metric = metric.name;
    fields.metricNumber = metric.index;
    fields.quantity = quantity;
    fields.ts = ts;
    return 'canonical';
  }

  /** The tenant's number: the fast path's, or one given by name (general-path events). */
  private number(event: Fields): number {
    if (event.tenant >= 0) return event.tenant;
    let number = this.numbers.tenants.get(event.tenantId);
    if (number === undefined) {
      // Numbers above the fast path's: the two never collide.
      number = 1_000_000 + this.numbers.tenants.size;
      this.numbers.tenants.set(event.tenantId, number);
    }
    return number;
  }

  private metricNumber(metric: string): number {
    let number = this.numbers.metrics.get(metric);
    if (number === undefined) {
      number = 1_000 + this.numbers.metrics.size;
      this.numbers.metrics.set(metric, number);
    }
    return number;
  }

  private hourName(ts: number): string {
    const hour = Math.floor(ts / HOUR_MS);
    let name = this.hours.get(hour);
    if (name === undefined) {
      name = hourOfDate(new Date(hour * HOUR_MS));
      if (this.hours.size < 100_000) this.hours.set(hour, name);
    }
    return name;
  }

  /** Any other line: parsed and validated exactly as the aggregator does. */
  private general(line: string, arrival: Date): string {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return MALFORMED;
    }
    const result = validateEvent(value, this.registry, arrival);
    if (!result.ok) return MALFORMED;
    const { eventId, tenantId, metric, quantity, ts } = result.event;
    Object.assign(this.fields, {
      eventId,
      tenantId,
      tenant: -1,
      metric,
      metricNumber: -1,
      quantity,
      ts: parseTimestamp(ts)!,
    });
    return 'general';
  }
}

/** Growable columns for one object's events. */
class Columns {
  private readonly byHour = new Map<number, Map<number, number>>();
  private lastHour = Number.NaN;
  private lastCells = new Map<number, number>();
  private readonly groups: string[] = [];
  private group: Uint32Array;
  private quantity: Float64Array;
  private hashes: Uint32Array;
  private idEnds: Uint32Array;
  private ids: Uint8Array;
  private count = 0;
  private idBytes = 0;

  constructor(private capacity: number) {
    // Every slot is written before it is read: uninitialised memory saves zeroing megabytes.
    this.group = unfilled(Uint32Array, capacity);
    this.quantity = unfilled(Float64Array, capacity);
    this.hashes = unfilled(Uint32Array, capacity);
    this.idEnds = unfilled(Uint32Array, capacity);
    this.ids = unfilled(Uint8Array, capacity * 40);
  }

  /**
   * The cell of a tenant, metric and hour (counted since the epoch), by number; its key string
   * is made once, when the object first sees the cell.
   */
  groupOf(tenant: number, metric: number, hour: number, key: () => string): number {
    // By hour, then by tenant and metric: small integers (tenants below 2^19) that V8 hashes
    // without allocating. Lines mostly come in time order, so the hour's map is usually the last one.
    if (hour !== this.lastHour) {
      let cells = this.byHour.get(hour);
      if (!cells) this.byHour.set(hour, (cells = new Map<number, number>()));
      this.lastHour = hour;
      this.lastCells = cells;
    }
    const number = tenant * 2048 + metric;
    let index = this.lastCells.get(number);
    if (index === undefined) {
      index = this.groups.length;
      this.groups.push(key());
      this.lastCells.set(number, index);
    }
    return index;
  }

  push(group: number, quantity: number, source: Uint8Array, start: number, end: number, hash: number): void {
    this.reserve(end - start);
    const ids = this.ids;
    let at = this.idBytes;
    for (let i = start; i < end; i++) ids[at++] = source[i];
    this.finishEvent(group, quantity, hash, at);
  }

  pushString(group: number, quantity: number, id: string): void {
    this.reserve(id.length);
    let hash = FNV_OFFSET;
    const ids = this.ids;
    let at = this.idBytes;
    for (let i = 0; i < id.length; i++) {
      const byte = id.charCodeAt(i);
      ids[at++] = byte;
      hash = Math.imul(hash ^ byte, FNV_PRIME);
    }
    this.finishEvent(group, quantity, hash, at);
  }

  finish(): Omit<ParsedObject, 'lines' | 'malformed' | 'outsidePeriod'> {
    const n = this.count;
    return {
      groups: this.groups,
      count: n,
      // Views, not copies: each column owns its buffer, which a worker transfers whole.
      group: this.group.subarray(0, n),
      quantity: this.quantity.subarray(0, n),
      hashes: this.hashes.subarray(0, n),
      ids: this.ids.subarray(0, this.idBytes),
      idEnds: this.idEnds.subarray(0, n),
    };
  }

  private reserve(idLength: number): void {
    if (this.count === this.capacity) {
      this.capacity *= 2;
      this.group = grown(this.group, this.capacity);
      this.quantity = grown(this.quantity, this.capacity);
      this.hashes = grown(this.hashes, this.capacity);
      this.idEnds = grown(this.idEnds, this.capacity);
    }
    if (this.idBytes + idLength > this.ids.length) {
      this.ids = grown(this.ids, Math.max(this.ids.length * 2, this.idBytes + idLength));
    }
  }

  private finishEvent(group: number, quantity: number, hash: number, idEnd: number): void {
    const n = this.count++;
    this.group[n] = group;
    this.quantity[n] = quantity;
    this.hashes[n] = hash >>> 0;
    this.idEnds[n] = idEnd;
    this.idBytes = idEnd;
  }
}

/** The index after `token` when the bytes at `at` are exactly it, else -1. */
function expect(text: Uint8Array, at: number, token: Uint8Array): number {
  if (at + token.length > text.length) return -1;
  for (let i = 0; i < token.length; i++) if (text[at + i] !== token[i]) return -1;
  return at + token.length;
}

/** The end of a JSON number starting at `at` (RFC 8259 grammar), or -1 when there is none. */
function jsonNumberEnd(text: Uint8Array, at: number, end: number): number {
  const digit = (i: number): boolean => i < end && text[i] >= 48 && text[i] <= 57;
  if (at < end && text[at] === 45) at++;
  if (!digit(at)) return -1;
  if (text[at] === 48) at++;
  else while (digit(at)) at++;
  if (at < end && text[at] === 46) {
    at++;
    if (!digit(at)) return -1;
    while (digit(at)) at++;
  }
  if (at < end && (text[at] === 101 || text[at] === 69)) {
    at++;
    if (at < end && (text[at] === 43 || text[at] === 45)) at++;
    if (!digit(at)) return -1;
    while (digit(at)) at++;
  }
  return at;
}

/**
 * gunzipSync's output chunk for an object: the size its gzip trailer records (ISIZE, the
 * uncompressed length mod 2^32 of the last member) plus one, so a single-member object inflates
 * into one buffer, never joined from pieces. A wrong or hostile trailer only costs speed:
 * the output grows by chunks either way. Bounded to 64 KB - 256 MB.
 */
function outputChunk(gzipped: Uint8Array): number {
  const n = gzipped.length;
  if (n < 18) return 64 * 1024;
  const size =
    (gzipped[n - 4] | (gzipped[n - 3] << 8) | (gzipped[n - 2] << 16) | (gzipped[n - 1] << 24)) >>> 0;
  return Math.min(256 * 1024 * 1024, Math.max(64 * 1024, size + 1));
}

/** A name read from bytes: made into a string and judged once, then found by its bytes. */
interface ByteName {
  readonly name: string;
  readonly index: number;
  readonly valid: boolean;
  readonly bytes: Uint8Array;
}

/** Names (tenant ids, metric names) interned by their bytes, up to a bound. */
class ByteNames {
  // Open addressing: slot i holds entry index + 1 (0: empty) and the hash beside it.
  private slots = new Int32Array(2 * 1024);
  private readonly entries: ByteName[] = [];

  constructor(private readonly limit: number) {}

  /**
   * The entry for `text[start, end)` (`fnv` is the FNV-1a of those bytes), judged by `valid`
   * when new; undefined once full.
   */
  find(
    text: Uint8Array,
    start: number,
    end: number,
    fnv: number,
    valid: (name: string) => boolean,
  ): ByteName | undefined {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    let i = fnv & mask;
    for (let at = slots[2 * i]; at !== 0; i = (i + 1) & mask, at = slots[2 * i]) {
      if (slots[2 * i + 1] === fnv) {
        const entry = this.entries[at - 1];
        if (sameBytes(entry.bytes, text, start, end)) return entry;
      }
    }
    if (this.entries.length >= this.limit) return undefined;
    const bytes = text.slice(start, end);
    const name = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const entry = { name, index: this.entries.length, valid: valid(name), bytes };
    this.entries.push(entry);
    slots[2 * i] = this.entries.length;
    slots[2 * i + 1] = fnv;
    if (this.entries.length * 2 > mask + 1) this.grow();
    return entry;
  }

  private grow(): void {
    this.slots = doubledTable(this.slots);
  }
}

/**
 * An open-addressing table of [value, hash] pairs (value 0: empty slot) at twice the size,
 * each pair reinserted by its hash: the shape ByteNames and the stream engine's IdSet share.
 */
export function doubledTable(old: Int32Array): Int32Array<ArrayBuffer> {
  const table = new Int32Array(old.length * 2);
  const mask = (table.length >> 1) - 1;
  for (let j = 0; j < old.length; j += 2) {
    if (old[j] === 0) continue;
    let i = old[j + 1] & mask;
    while (table[2 * i] !== 0) i = (i + 1) & mask;
    table[2 * i] = old[j];
    table[2 * i + 1] = old[j + 1];
  }
  return table;
}

function sameBytes(a: Uint8Array, text: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== text[start + i]) return false;
  return true;
}

/** A JSON number's value (its grammar already checked): whole numbers directly, others by Number. */
function jsonNumberValue(text: Uint8Array, start: number, end: number): number {
  if (end - start <= 15) {
    let value = 0;
    let i = start;
    for (; i < end; i++) {
      const c = text[i];
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
    }
    if (i === end) return value;
  }
  return Number(Buffer.from(text.buffer, text.byteOffset + start, end - start).toString('latin1'));
}

/** Marks a timestamp the fast path leaves to the general one (years 0-99). */
const GENERAL_TIMESTAMP = -1;

/**
 * parseTimestamp on bytes: `YYYY-MM-DDTHH:MM:SS(.mmm)?Z`, a real date and time, as epoch ms;
 * undefined when it is not one.
 */
function timestampOf(text: Uint8Array, start: number, end: number): number | undefined {
  const length = end - start;
  if (length !== 20 && length !== 24) return undefined;
  for (let i = 0; i < length; i++) {
    const c = text[start + i];
    const expected = TIMESTAMP_SHAPE[i];
    if (i === length - 1) {
      if (c !== 90) return undefined;
    } else if (expected === 0 ? c < 48 || c > 57 : c !== expected) return undefined;
  }
  const at = (offset: number, count: number): number => {
    let value = 0;
    for (let i = start + offset; i < start + offset + count; i++) value = value * 10 + text[i] - 48;
    return value;
  };
  const year = at(0, 4);
  if (year < 100) return GENERAL_TIMESTAMP;
  const month = at(5, 2);
  const day = at(8, 2);
  const hour = at(11, 2);
  const minute = at(14, 2);
  const second = at(17, 2);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, length === 24 ? at(20, 3) : 0);
}

// 0 marks a digit; other entries are the byte expected there (the final Z is checked apart).
const TIMESTAMP_SHAPE = Uint8Array.from('0000-00-00T00:00:00.000', (c) => (c === '0' ? 0 : c.charCodeAt(0)));

function isBlank(buffer: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buffer[i];
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function byteClass(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}

type Column = Uint32Array | Float64Array | Uint8Array;
type ColumnType<T extends Column> = { new (buffer: ArrayBuffer, offset: number, length: number): T } & {
  readonly BYTES_PER_ELEMENT: number;
};

/** A typed array over memory not zeroed first (Buffer.allocUnsafe, never pooled at these sizes). */
function unfilled<T extends Column>(type: ColumnType<T>, length: number): T {
  const bytes = Buffer.allocUnsafeSlow(Math.max(1, length) * type.BYTES_PER_ELEMENT);
  return new type(bytes.buffer as ArrayBuffer, bytes.byteOffset, length);
}

function grown<T extends Column>(array: T, length: number): T {
  const next = unfilled(array.constructor as unknown as ColumnType<T>, length);
  next.set(array);
  return next;
}
