import { tenantIdProblem } from '../tenants/model.js';
import {
  daysInMonth,
  HOUR_MS,
  MAX_FUTURE_SKEW_MS,
  MAX_SUM_QUANTITY,
  parseTimestamp,
  validateEvent,
} from './events.js';
import { Gunzipper } from './lake-gunzip.js';
import { doubledTable, packUuid, packUuidString } from './lake-ids.js';
import { MetricRegistry } from './metrics.js';
import type { MetricDefinition } from './types.js';

/**
 * The CPU-bound half of the stream engine: one lake object's bytes in, its valid in-period
 * events out in columns. It runs in worker threads (lake-worker.ts) or inline. Deduplication is
 * not done here: it needs every object's events, and happens where the columns meet
 * (lake-engine.ts).
 */
export interface ParseSettings {
  /** Epoch milliseconds of the period: [from, to). */
  readonly from: number;
  readonly to: number;
  readonly tenantId?: string;
  readonly metrics: readonly MetricDefinition[];
}

/**
 * The (tenant, metric) pairs and the cells (a pair in an hour) a parser numbered while parsing
 * an object, named for whoever reads its numbers. Pair `firstPair + k` is `tenants[k]` and
 * `metrics[k]`; cell `firstCell + k` is pair `cellPairs[k]` (the parser's number) in hour
 * `cellHours[k]` (hours since the epoch).
 */
export interface NewNames {
  readonly firstPair: number;
  readonly tenants: readonly string[];
  readonly metrics: readonly string[];
  readonly firstCell: number;
  readonly cellPairs: readonly number[];
  readonly cellHours: readonly number[];
}

/**
 * One object's events as columns, cheap to move between threads (the typed arrays are
 * transferred, not copied).
 *
 * Event i belongs to cell `cell[i]`. A parser numbers (tenant, metric) pairs and cells 0, 1, 2,
 * … in the order it first meets them, across all the objects it parses, and names each one once,
 * in `names`, with the first object that has it. So a thread never sends a tenant's name twice,
 * and the receiver keeps one table per parser to map its numbers to its own (lake-cells.ts).
 *
 * An id in the lowercase UUID form is packed into `uuids[4i, 4i + 4)`; the events with any other
 * id are listed, ascending, in `others`, the j-th one's id being the latin1 bytes
 * `otherIds[otherEnds[j-1], otherEnds[j])` (event ids are ASCII by rule).
 */
export interface ParsedObject {
  readonly names: NewNames;
  readonly count: number;
  readonly cell: Uint32Array;
  readonly quantity: Float64Array;
  readonly uuids: Int32Array;
  readonly others: Uint32Array;
  readonly otherIds: Uint8Array;
  readonly otherEnds: Uint32Array;
  readonly lines: number;
  readonly malformed: number;
  readonly outsidePeriod: number;
}

const NEWLINE = 10;
const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** A separator of the canonical line, as little-endian words at offsets (overlapping at the end). */
interface Token {
  readonly length: number;
  readonly offsets: readonly number[];
  readonly words: readonly number[];
}

function token(text: string): Token {
  const view = new DataView(Uint8Array.from(text, (c) => c.charCodeAt(0)).buffer);
  const offsets: number[] = [];
  for (let at = 0; at < text.length; at += 4) offsets.push(Math.min(at, text.length - 4));
  return { length: text.length, offsets, words: offsets.map((at) => view.getInt32(at, true)) };
}

// The canonical line, as JSON.stringify writes an event: these separators, in this order.
const EVENT_ID_OPEN = token('{"eventId":"');
const TENANT_OPEN = token('","tenantId":"');
const METRIC_OPEN = token('","metric":"');
const QUANTITY_OPEN = token('","quantity":');
const TS_OPEN = token(',"ts":"');

// Bytes allowed in an event id (A-Z a-z 0-9 . _ : -), a tenant id and a metric name.
const ID_BYTE = byteClass('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-');
const TENANT_BYTE = byteClass('abcdefghijklmnopqrstuvwxyz0123456789-');
const METRIC_BYTE = byteClass('abcdefghijklmnopqrstuvwxyz0123456789.');

/** What the fast path makes of a line. */
const CANONICAL = 0;
/** A line that is not an event the aggregator would have counted. */
const MALFORMED = 1;
/** A line not in the canonical form: the general path (JSON.parse and validateEvent) decides. */
const GENERAL = 2;
type Outcome = typeof CANONICAL | typeof MALFORMED | typeof GENERAL;

/**
 * The tenant and metric of a canonical line, as the bytes `<tenant>","metric":"<metric>`.
 * Judged once, then found by its bytes.
 */
interface Span {
  /** Where its bytes are in the parser's span arena, and how many. */
  readonly at: number;
  readonly length: number;
  readonly outcome: Outcome;
  /** The (tenant, metric) pair's number; -1 unless the outcome is CANONICAL. */
  readonly pair: number;
  readonly sum: boolean;
  /** Whether the run is for this tenant (every tenant when none was asked for). */
  readonly wanted: boolean;
}

/** Distinct spans a parser keeps: beyond, lines take the general path (still exact, only slower). */
const MAX_SPANS = 1_000_000;
/** The longest tenant id or metric name the fast path reads: a tenant id is at most 32 bytes. */
const MAX_NAME_BYTES = 128;

export class LakeObjectParser {
  private readonly registry: MetricRegistry;
  // The last line the fast path accepted: its ts as its hour (since the epoch) and the
  // milliseconds into it (small integers, which V8 keeps unboxed, where an epoch-ms double
  // would cost a heap number a line), its tenant and metric pair, and its id.
  private hour = 0;
  private offset = 0;
  private pair = 0;
  private wanted = false;
  private idStart = 0;
  private idEnd = 0;
  private idPacked = false;
  // The two last hour prefixes (YYYY-MM-DDTHH) of timestamps the fast path read, since objects
  // straddle hours and late events come in between: each as its first 12 bytes in little-endian
  // words, then the 13th (-1, no byte, when unset), and its hour.
  private tsPrefix0 = -1;
  private tsPrefix1 = -1;
  private tsPrefix2 = -1;
  private tsPrefix3 = -1;
  private tsPrefixHour = 0;
  private tsOther0 = -1;
  private tsOther1 = -1;
  private tsOther2 = -1;
  private tsOther3 = -1;
  private tsOtherHour = 0;

  private spanSlots = new Int32Array(2 * 4096);
  private readonly spans: Span[] = [];
  // The spans' bytes, one after the other (not views of the text, which they would keep alive).
  private spanArena = new Uint8Array(64 * 1024);
  private spanView = new DataView(this.spanArena.buffer);
  private spanBytes = 0;
  private readonly cells = new CellNumbers();
  private readonly gunzipper = new Gunzipper();

  constructor(private readonly settings: ParseSettings) {
    this.registry = new MetricRegistry(settings.metrics);
  }

  /**
   * Gunzips and parses one object. `arrival` is the latest time a record in it can have
   * arrived: a ts more than five minutes past it is malformed, as the aggregator found it.
   */
  parse(gzipped: Uint8Array, arrival: Date): ParsedObject {
    const text = this.gunzipper.gunzip(gzipped);
    const view = new DataView(text.buffer, text.byteOffset, text.byteLength);
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
      columns.reserve(end - lineStart);
      const n = columns.count;
      const outcome = this.canonical(text, view, lineStart, end, now, columns.uuids, columns.quantity, n);
      if (outcome === CANONICAL) {
        const ts = this.hour * HOUR_MS + this.offset;
        if (ts < from || ts >= to) {
          outsidePeriod++;
          continue;
        }
        if (!this.wanted) continue;
        const cell = this.cells.of(this.pair, this.hour);
        if (this.idPacked) columns.push(cell);
        else columns.pushOther(cell, text, this.idStart, this.idEnd);
        continue;
      }
      if (outcome === MALFORMED) {
        malformed++;
        continue;
      }
      const event = this.general(text.toString('utf8', lineStart, end), arrival);
      if (event === undefined) {
        malformed++;
        continue;
      }
      if (event.ts < from || event.ts >= to) {
        outsidePeriod++;
        continue;
      }
      if (tenantId !== undefined && event.tenantId !== tenantId) continue;
      const cell = this.cells.of(
        this.cells.pairOf(event.tenantId, event.metric),
        Math.floor(event.ts / HOUR_MS),
      );
      columns.reserve(event.eventId.length);
      columns.quantity[columns.count] = event.quantity;
      if (packUuidString(event.eventId, columns.uuids, 4 * columns.count)) columns.push(cell);
      else columns.pushOther(cell, Buffer.from(event.eventId, 'latin1'), 0, event.eventId.length);
    }
    return { ...columns.finish(), names: this.cells.takeNew(), lines, malformed, outsidePeriod };
  }

  /**
   * The fast path, for lines exactly as JSON.stringify writes an event (every line saasctl and
   * its emitter produce): the fields are read from the bytes, with no JSON.parse and no
   * strings. It only ever decides what validateEvent would of the same line; whatever it is not
   * sure of (spaces, escapes, other key orders, extra keys, names it has no room for) goes the
   * general way. It writes the event into slot n of the columns it is given: a lowercase UUID id
   * packed into `uuids[4n, 4n + 4)`, the quantity into `quantities[n]`. The separators are
   * compared four bytes at a time through `view`.
   */
  private canonical(
    text: Buffer,
    view: DataView,
    start: number,
    end: number,
    now: number,
    uuids: Int32Array,
    quantities: Float64Array,
    n: number,
  ): Outcome {
    if (end > start && text[end - 1] === 13) end--;
    if (end - start < 64 || !matches(view, start, EVENT_ID_OPEN)) return GENERAL;
    // The id: a lowercase UUID is 36 bytes and its closing quote.
    const idStart = start + EVENT_ID_OPEN.length;
    let at = idStart + 36;
    if (text[at] === QUOTE && packUuid(view, idStart, uuids, 4 * n)) {
      this.idPacked = true;
    } else {
      at = idStart;
      while (at < end && ID_BYTE[text[at]] === 1) at++;
      if (at === idStart || at - idStart > 128) return GENERAL;
      // Some other spelling of a UUID (upper case, say) is kept by its bytes, never packed.
      this.idPacked = false;
    }
    this.idStart = idStart;
    this.idEnd = at;

    // The tenant and metric, up to their closing quotes (they hold none), found by their bytes.
    if (at + TENANT_OPEN.length > end || !matches(view, at, TENANT_OPEN)) return GENERAL;
    at += TENANT_OPEN.length;
    const tenantStart = at;
    let hash = FNV_OFFSET;
    let limit = Math.min(end, at + MAX_NAME_BYTES);
    for (; at < limit; at++) {
      const c = text[at];
      if (c === QUOTE) break;
      hash = Math.imul(hash ^ c, FNV_PRIME);
    }
    if (at + METRIC_OPEN.length > end || !matches(view, at, METRIC_OPEN)) return GENERAL;
    at += METRIC_OPEN.length;
    limit = Math.min(end, at + MAX_NAME_BYTES);
    for (; at < limit; at++) {
      const c = text[at];
      if (c === QUOTE) break;
      hash = Math.imul(hash ^ c, FNV_PRIME);
    }
    const spanEnd = at;
    if (at + QUANTITY_OPEN.length > end || !matches(view, at, QUANTITY_OPEN)) return GENERAL;
    at += QUANTITY_OPEN.length;
    const span = this.span(view, tenantStart, spanEnd, hash);
    if (span === undefined || span.outcome === GENERAL) return GENERAL;

    const quantityStart = at;
    at = jsonNumberEnd(text, at, end);
    if (at < 0 || at + TS_OPEN.length > end || !matches(view, at, TS_OPEN)) return GENERAL;
    const quantityEnd = at;
    const tsStart = at + TS_OPEN.length;
    const tsEnd = end - 2;
    if (tsEnd < tsStart || text[tsEnd] !== QUOTE || text[tsEnd + 1] !== 125) return GENERAL;
    const offset = this.timestamp(text, view, tsStart, tsEnd);
    if (offset === GENERAL_TIMESTAMP) return GENERAL;

    if (span.outcome === MALFORMED) return MALFORMED;
    const quantity = jsonNumberValue(text, quantityStart, quantityEnd);
    if (!Number.isFinite(quantity) || quantity < 0) return MALFORMED;
    if (span.sum && quantity > MAX_SUM_QUANTITY) return MALFORMED;
    if (offset === BAD_TIMESTAMP || this.hour * HOUR_MS + offset - now > MAX_FUTURE_SKEW_MS) return MALFORMED;

    quantities[n] = quantity;
    this.offset = offset;
    this.pair = span.pair;
    this.wanted = span.wanted;
    return CANONICAL;
  }

  /**
   * A canonical ts (`text[start, end)`, inside its quotes): the milliseconds into its hour, with
   * `hour` set; BAD_TIMESTAMP when it is not a real date and time, GENERAL_TIMESTAMP when the
   * general path must decide. Lines mostly share the hour of the line before, so that part is
   * checked once per run of lines.
   */
  private timestamp(text: Buffer, view: DataView, start: number, end: number): number {
    const length = end - start;
    if ((length === 24 || length === 20) && this.knownHour(text, view, start)) {
      const minute = twoDigits(text, start + 14);
      const second = twoDigits(text, start + 17);
      if (
        text[start + 13] === COLON &&
        text[start + 16] === COLON &&
        minute >= 0 &&
        minute <= 59 &&
        second >= 0 &&
        second <= 59 &&
        text[end - 1] === 90
      ) {
        this.hour = this.tsPrefixHour;
        if (length === 20) return minute * 60_000 + second * 1000;
        const millis = threeDigits(text, start + 20);
        if (text[start + 19] === 46 && millis >= 0) return minute * 60_000 + second * 1000 + millis;
      }
    }
    // The same rules as the line before the fast path had them: no quote or escape inside.
    for (let i = start; i < end; i++)
      if (text[i] === QUOTE || text[i] === BACKSLASH) return GENERAL_TIMESTAMP;
    const ts = timestampOf(text, start, end);
    if (ts === undefined) return BAD_TIMESTAMP;
    if (ts === GENERAL_TIMESTAMP) return GENERAL_TIMESTAMP;
    this.swapHours();
    this.tsPrefix0 = view.getInt32(start, true);
    this.tsPrefix1 = view.getInt32(start + 4, true);
    this.tsPrefix2 = view.getInt32(start + 8, true);
    this.tsPrefix3 = text[start + 12];
    this.hour = this.tsPrefixHour = Math.floor(ts / HOUR_MS);
    return ts - this.hour * HOUR_MS;
  }

  /** Whether the 13 bytes at `start` are one of the two hour prefixes kept (then the first). */
  private knownHour(text: Buffer, view: DataView, start: number): boolean {
    const a = view.getInt32(start, true);
    const b = view.getInt32(start + 4, true);
    const c = view.getInt32(start + 8, true);
    const d = text[start + 12];
    if (a === this.tsPrefix0 && b === this.tsPrefix1 && c === this.tsPrefix2 && d === this.tsPrefix3)
      return true;
    if (a !== this.tsOther0 || b !== this.tsOther1 || c !== this.tsOther2 || d !== this.tsOther3)
      return false;
    this.swapHours();
    return true;
  }

  private swapHours(): void {
    const p0 = this.tsPrefix0;
    const p1 = this.tsPrefix1;
    const p2 = this.tsPrefix2;
    const p3 = this.tsPrefix3;
    const hour = this.tsPrefixHour;
    this.tsPrefix0 = this.tsOther0;
    this.tsPrefix1 = this.tsOther1;
    this.tsPrefix2 = this.tsOther2;
    this.tsPrefix3 = this.tsOther3;
    this.tsPrefixHour = this.tsOtherHour;
    this.tsOther0 = p0;
    this.tsOther1 = p1;
    this.tsOther2 = p2;
    this.tsOther3 = p3;
    this.tsOtherHour = hour;
  }

  /**
   * The span `text[start, end)`: tenant id, `","metric":"` and metric (`hash` the FNV-1a of the
   * names' bytes), judged when new; undefined once full.
   */
  private span(view: DataView, start: number, end: number, hash: number): Span | undefined {
    const slots = this.spanSlots;
    const mask = (slots.length >> 1) - 1;
    const length = end - start;
    let i = hash & mask;
    for (let at = slots[2 * i]; at !== 0; i = (i + 1) & mask, at = slots[2 * i]) {
      if (slots[2 * i + 1] === hash) {
        const span = this.spans[at - 1];
        if (span.length === length && sameWords(view, start, this.spanView, span.at, length)) return span;
      }
    }
    if (this.spans.length >= MAX_SPANS) return undefined;
    if (this.spanBytes + length > this.spanArena.length) {
      const arena = new Uint8Array(2 * (this.spanBytes + length));
      arena.set(this.spanArena);
      this.spanArena = arena;
      this.spanView = new DataView(arena.buffer);
    }
    const bytes = new Uint8Array(view.buffer, view.byteOffset + start, length);
    this.spanArena.set(bytes, this.spanBytes);
    const span = this.judge(bytes, this.spanBytes);
    this.spanBytes += length;
    this.spans.push(span);
    slots[2 * i] = this.spans.length;
    slots[2 * i + 1] = hash;
    if (this.spans.length * 2 > mask + 1) this.spanSlots = doubledTable(slots);
    return span;
  }

  /** A span's outcome, by the canonical line's grammar and the aggregator's rules. */
  private judge(span: Uint8Array, at: number): Span {
    const { length } = span;
    const general: Span = { at, length, outcome: GENERAL, pair: -1, sum: false, wanted: false };
    // The tenant ends at the first quote, which the separator starts.
    const tenantEnd = span.indexOf(QUOTE);
    const metricStart = tenantEnd + METRIC_OPEN.length;
    for (let i = 0; i < tenantEnd; i++) if (TENANT_BYTE[span[i]] !== 1) return general;
    for (let i = metricStart; i < span.length; i++) if (METRIC_BYTE[span[i]] !== 1) return general;
    const tenantId = latin1(span, 0, tenantEnd);
    const metric = latin1(span, metricStart, span.length);
    const definition = this.registry.get(metric);
    if (tenantIdProblem(tenantId) !== undefined || definition === undefined) {
      return { at, length, outcome: MALFORMED, pair: -1, sum: false, wanted: false };
    }
    const wanted = this.settings.tenantId === undefined || this.settings.tenantId === tenantId;
    const pair = this.cells.pairOf(tenantId, metric);
    return { at, length, outcome: CANONICAL, pair, sum: definition.aggregation === 'sum', wanted };
  }

  /** Any other line: parsed and validated exactly as the aggregator does; undefined when malformed. */
  private general(line: string, arrival: Date) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return undefined;
    }
    const result = validateEvent(value, this.registry, arrival);
    if (!result.ok) return undefined;
    const { eventId, tenantId, metric, quantity, ts } = result.event;
    return { eventId, tenantId, metric, quantity, ts: parseTimestamp(ts)! };
  }
}

/**
 * A parser's numbers for (tenant, metric) pairs and for cells (a pair in an hour), kept across
 * objects, with what was numbered since they were last taken.
 */
class CellNumbers {
  private readonly pairs = new Map<string, number>();
  private pairCount = 0;
  private readonly byHour = new Map<number, Map<number, number>>();
  private lastHour = Number.NaN;
  private lastCells = new Map<number, number>();
  private cellCount = 0;
  private fresh = CellNumbers.nothingNew(0, 0);

  private static nothingNew(firstPair: number, firstCell: number) {
    return {
      firstPair,
      tenants: [] as string[],
      metrics: [] as string[],
      firstCell,
      cellPairs: [] as number[],
      cellHours: [] as number[],
    };
  }

  pairOf(tenantId: string, metric: string): number {
    const key = `${tenantId}\u0000${metric}`;
    let pair = this.pairs.get(key);
    if (pair === undefined) {
      pair = this.pairCount++;
      this.pairs.set(key, pair);
      this.fresh.tenants.push(tenantId);
      this.fresh.metrics.push(metric);
    }
    return pair;
  }

  /** The cell of a pair in an hour (hours since the epoch). */
  of(pair: number, hour: number): number {
    if (hour !== this.lastHour) {
      let cells = this.byHour.get(hour);
      if (!cells) this.byHour.set(hour, (cells = new Map<number, number>()));
      this.lastHour = hour;
      this.lastCells = cells;
    }
    let cell = this.lastCells.get(pair);
    if (cell === undefined) {
      cell = this.cellCount++;
      this.lastCells.set(pair, cell);
      this.fresh.cellPairs.push(pair);
      this.fresh.cellHours.push(hour);
    }
    return cell;
  }

  /**
   * What was numbered since the last call. Only a parsed object carries it away, so what was
   * numbered in an object that then failed goes with the next one.
   */
  takeNew(): NewNames {
    const taken = this.fresh;
    this.fresh = CellNumbers.nothingNew(this.pairCount, this.cellCount);
    return taken;
  }
}

/** Growable columns for one object's events. */
class Columns {
  count = 0;
  uuids: Int32Array;
  quantity: Float64Array;
  private cell: Uint32Array;
  private others: Uint32Array;
  private otherEnds: Uint32Array;
  private otherIds: Uint8Array;
  private otherCount = 0;
  private otherBytes = 0;

  constructor(private capacity: number) {
    // Every slot is written before it is read: uninitialised memory saves zeroing megabytes.
    this.cell = unfilled(Uint32Array, capacity);
    this.quantity = unfilled(Float64Array, capacity);
    this.uuids = unfilled(Int32Array, 4 * capacity);
    this.others = new Uint32Array(16);
    this.otherEnds = new Uint32Array(16);
    this.otherIds = new Uint8Array(1024);
  }

  /** Room for one more event, whose id is at most `idLength` bytes. */
  reserve(idLength: number): void {
    if (this.count === this.capacity) {
      this.capacity *= 2;
      this.cell = grown(this.cell, this.capacity);
      this.quantity = grown(this.quantity, this.capacity);
      this.uuids = grown(this.uuids, 4 * this.capacity);
    }
    if (this.otherCount === this.others.length) {
      this.others = grown(this.others, 2 * this.others.length);
      this.otherEnds = grown(this.otherEnds, 2 * this.otherEnds.length);
    }
    if (this.otherBytes + idLength > this.otherIds.length) {
      this.otherIds = grown(this.otherIds, Math.max(this.otherIds.length * 2, this.otherBytes + idLength));
    }
  }

  /** The event whose id and quantity were written into `uuids` and `quantity` at its place. */
  push(cell: number): void {
    this.cell[this.count++] = cell;
  }

  /** The same, for an id not packed: its bytes are kept apart. */
  pushOther(cell: number, source: Uint8Array, start: number, end: number): void {
    const ids = this.otherIds;
    let at = this.otherBytes;
    for (let i = start; i < end; i++) ids[at++] = source[i];
    this.otherBytes = at;
    this.otherEnds[this.otherCount] = at;
    this.others[this.otherCount++] = this.count;
    this.push(cell);
  }

  finish() {
    const n = this.count;
    return {
      count: n,
      // Views, not copies: each column owns its buffer, which a worker transfers whole.
      cell: this.cell.subarray(0, n),
      quantity: this.quantity.subarray(0, n),
      uuids: this.uuids.subarray(0, 4 * n),
      others: this.others.subarray(0, this.otherCount),
      otherIds: this.otherIds.subarray(0, this.otherBytes),
      otherEnds: this.otherEnds.subarray(0, this.otherCount),
    };
  }
}

/** Whether the bytes at `at` are exactly `token` (the caller checks they are in the view). */
function matches(view: DataView, at: number, token: Token): boolean {
  const { offsets, words } = token;
  for (let i = 0; i < offsets.length; i++)
    if (view.getInt32(at + offsets[i], true) !== words[i]) return false;
  return true;
}

/** The end of a JSON number starting at `at` (RFC 8259 grammar), or -1 when there is none. */
function jsonNumberEnd(text: Uint8Array, at: number, end: number): number {
  // No helper closures: this runs once a line, and a closure would be allocated every time.
  if (at < end && text[at] === 45) at++;
  if (!isDigit(text, at, end)) return -1;
  if (text[at] === 48) at++;
  else while (isDigit(text, at, end)) at++;
  if (at < end && text[at] === 46) {
    at++;
    if (!isDigit(text, at, end)) return -1;
    while (isDigit(text, at, end)) at++;
  }
  if (at < end && (text[at] === 101 || text[at] === 69)) {
    at++;
    if (at < end && (text[at] === 43 || text[at] === 45)) at++;
    if (!isDigit(text, at, end)) return -1;
    while (isDigit(text, at, end)) at++;
  }
  return at;
}

function isDigit(text: Uint8Array, i: number, end: number): boolean {
  return i < end && text[i] >= 48 && text[i] <= 57;
}

/** Whether `length` (at least 4) bytes at `a` in one view equal those at `b` in another, compared by words. */
function sameWords(one: DataView, a: number, other: DataView, b: number, length: number): boolean {
  const last = length - 4;
  for (let k = 0; k < last; k += 4)
    if (one.getInt32(a + k, true) !== other.getInt32(b + k, true)) return false;
  return one.getInt32(a + last, true) === other.getInt32(b + last, true);
}

/**
 * A JSON number's value (its grammar already checked). Up to 15 digits with or without a
 * fraction, directly: the digits as a whole number are exact, and dividing by the power of ten
 * rounds once, to the same double as Number. Others (exponents, signs, longer) by Number.
 */
function jsonNumberValue(text: Uint8Array, start: number, end: number): number {
  if (end - start <= 16) {
    let value = 0;
    let digits = 0;
    let point = -1;
    let i = start;
    for (; i < end; i++) {
      const c = text[i];
      if (c >= 48 && c <= 57) {
        value = value * 10 + (c - 48);
        digits++;
      } else if (c === 46 && point < 0) {
        point = i;
      } else {
        break;
      }
    }
    if (i === end && digits <= 15) return point < 0 ? value : value / POWERS_OF_TEN[end - point - 1];
  }
  return Number(latin1(text, start, end));
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

/** Two ASCII digits as a number, or a negative one when they are not digits. */
function twoDigits(text: Uint8Array, at: number): number {
  const a = text[at] - 48;
  const b = text[at + 1] - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function threeDigits(text: Uint8Array, at: number): number {
  const a = twoDigits(text, at);
  const c = text[at + 2] - 48;
  return a >= 0 && c >= 0 && c <= 9 ? a * 10 + c : -1;
}

/** Marks a timestamp the fast path leaves to the general one (years 0-99, or quotes and escapes). */
const GENERAL_TIMESTAMP = -1;
/** Marks a timestamp that is not a real date and time. */
const BAD_TIMESTAMP = -2;

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
  const year = twoDigits(text, start) * 100 + twoDigits(text, start + 2);
  if (year < 100) return GENERAL_TIMESTAMP;
  const month = twoDigits(text, start + 5);
  const day = twoDigits(text, start + 8);
  const hour = twoDigits(text, start + 11);
  const minute = twoDigits(text, start + 14);
  const second = twoDigits(text, start + 17);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return Date.UTC(
    year,
    month - 1,
    day,
    hour,
    minute,
    second,
    length === 24 ? threeDigits(text, start + 20) : 0,
  );
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

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

function byteClass(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}

type Column = Uint32Array | Int32Array | Float64Array | Uint8Array;
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
