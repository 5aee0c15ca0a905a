import { gunzipSync } from 'node:zlib';

import { tenantIdProblem } from '../tenants/model.js';
import {
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
  tenantId: string;
  metric: string;
  quantity: number;
  ts: number;
}

const NEWLINE = 10;
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
  private readonly tenants = new Map<string, boolean>();
  private readonly fields: Fields = {
    eventId: '',
    idStart: 0,
    idEnd: 0,
    tenantId: '',
    metric: '',
    quantity: 0,
    ts: 0,
  };

  constructor(private readonly settings: ParseSettings) {
    this.registry = new MetricRegistry(settings.metrics);
  }

  /**
   * Gunzips and parses one object. `arrival` is the latest time a record in it can have
   * arrived: a ts more than five minutes past it is malformed, as the aggregator found it.
   */
  parse(gzipped: Uint8Array, arrival: Date): ParsedObject {
    // Large output chunks: fewer pieces for gunzipSync to allocate and join.
    const text = gunzipSync(gzipped, { chunkSize: 1 << 20 });
    const { from, to, tenantId } = this.settings;
    const columns = new Columns();
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
      const group = columns.groupOf(event.tenantId, event.metric, Math.floor(event.ts / HOUR_MS));
      if (outcome === 'canonical') columns.push(group, event.quantity, text, event.idStart, event.idEnd);
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
    const idStart = at;
    while (at < end && ID_BYTE[text[at]]) at++;
    const idEnd = at;
    at = expect(text, at, TENANT_OPEN);
    if (at < 0) return GENERAL;
    if (idEnd === idStart || idEnd - idStart > 128) return MALFORMED;
    const tenantStart = at;
    while (at < end && TENANT_BYTE[text[at]]) at++;
    const tenantEnd = at;
    at = expect(text, at, METRIC_OPEN);
    if (at < 0) return GENERAL;
    const metricStart = at;
    while (at < end && METRIC_BYTE[text[at]]) at++;
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
    const tenantId = text.toString('latin1', tenantStart, tenantEnd);
    let validTenant = this.tenants.get(tenantId);
    if (validTenant === undefined) {
      validTenant = tenantIdProblem(tenantId) === undefined;
      if (this.tenants.size < 100_000) this.tenants.set(tenantId, validTenant);
    }
    if (!validTenant) return MALFORMED;
    const definition = this.registry.get(text.toString('latin1', metricStart, metricEnd));
    if (!definition) return MALFORMED;
    const quantity = Number(text.toString('latin1', quantityStart, quantityEnd));
    if (!Number.isFinite(quantity) || quantity < 0) return MALFORMED;
    if (definition.aggregation === 'sum' && quantity > MAX_SUM_QUANTITY) return MALFORMED;
    const ts = parseTimestamp(text.toString('latin1', tsStart, at));
    if (ts === undefined || ts - now > MAX_FUTURE_SKEW_MS) return MALFORMED;

    fields.idStart = idStart;
    fields.idEnd = idEnd;
    fields.tenantId = tenantId;
    fields.metric = definition.name;
    fields.quantity = quantity;
    fields.ts = ts;
    return 'canonical';
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
      metric,
      quantity,
      ts: parseTimestamp(ts)!,
    });
    return 'general';
  }
}

/** Growable columns for one object's events. */
class Columns {
  // Cells are found by number (tenant, metric, hour), the cell key string made once per cell.
  private readonly tenantIndex = new Map<string, number>();
  private readonly metricIndex = new Map<string, number>();
  private readonly groupIndex = new Map<number, number>();
  private readonly groups: string[] = [];
  private capacity = 1024;
  private group = new Uint32Array(this.capacity);
  private quantity = new Float64Array(this.capacity);
  private hashes = new Uint32Array(this.capacity);
  private idEnds = new Uint32Array(this.capacity);
  private ids = new Uint8Array(this.capacity * 40);
  private count = 0;
  private idBytes = 0;

  /** The cell of a tenant, metric and hour (counted since the epoch). */
  groupOf(tenantId: string, metric: string, hour: number): number {
    let tenant = this.tenantIndex.get(tenantId);
    if (tenant === undefined) this.tenantIndex.set(tenantId, (tenant = this.tenantIndex.size));
    let metricNumber = this.metricIndex.get(metric);
    if (metricNumber === undefined) this.metricIndex.set(metric, (metricNumber = this.metricIndex.size));
    // Exact in a double: tenants and metrics per object stay far below 2^20 and 2^10.
    const number = (hour * 1024 + metricNumber) * 1048576 + tenant;
    let index = this.groupIndex.get(number);
    if (index === undefined) {
      index = this.groups.length;
      this.groups.push(`${tenantId}\u0000${metric}\u0000${hourOfDate(new Date(hour * HOUR_MS))}`);
      this.groupIndex.set(number, index);
    }
    return index;
  }

  push(group: number, quantity: number, source: Uint8Array, start: number, end: number): void {
    this.reserve(end - start);
    let hash = 0x811c9dc5;
    const ids = this.ids;
    let at = this.idBytes;
    for (let i = start; i < end; i++) {
      ids[at++] = source[i];
      hash = Math.imul(hash ^ source[i], 0x01000193);
    }
    this.finishEvent(group, quantity, hash, at);
  }

  pushString(group: number, quantity: number, id: string): void {
    this.reserve(id.length);
    let hash = 0x811c9dc5;
    const ids = this.ids;
    let at = this.idBytes;
    for (let i = 0; i < id.length; i++) {
      const byte = id.charCodeAt(i);
      ids[at++] = byte;
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    this.finishEvent(group, quantity, hash, at);
  }

  finish(): Omit<ParsedObject, 'lines' | 'malformed' | 'outsidePeriod'> {
    const n = this.count;
    return {
      groups: this.groups,
      count: n,
      group: this.group.slice(0, n),
      quantity: this.quantity.slice(0, n),
      hashes: this.hashes.slice(0, n),
      ids: this.ids.slice(0, this.idBytes),
      idEnds: this.idEnds.slice(0, n),
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

function grown<T extends Uint32Array | Float64Array | Uint8Array>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  return next;
}
