import { createHash } from 'node:crypto';

import { usageError } from '../cli/errors.js';
import { HOUR_MS, parseTimestamp, validateEvent } from './events.js';
import { FIREHOSE_MAX_BUFFER_MS, lakeObjectKey } from './lake-layout.js';
import { MetricRegistry } from './metrics.js';
import type { UsageEvent } from './types.js';

/**
 * `metering simulate`, the pure part: a deterministic plan of what Firehose and the aggregator
 * Lambda would have written for a period of realistic usage (a few heavy tenants and a long
 * tail, a diurnal pattern, duplicates, late and malformed events). A past month cannot be sent
 * through Kinesis with its real arrival times, so the pipeline is played on a simulated clock:
 * every event gets a ts in the period and an arrival time, and the plan is the lake objects (in
 * arrival order) and the counter batches they make. No AWS here: run-simulate.ts writes them.
 */

export const MAX_SIMULATED_TENANTS = 10_000;
export const MAX_SIMULATED_EVENTS = 50_000_000;
export const MAX_SIMULATED_RATE = 0.5;
export const MAX_SIMULATED_DAYS = 92;
export const DEFAULT_SEED = 1;
export const DEFAULT_RATES = { duplicate: 0.01, late: 0.02, malformed: 0.005 } as const;
/** A late event arrives this long after its ts, at least and at most (reconcile reads 24 h late). */
export const MIN_LATE_MS = HOUR_MS;
export const MAX_LATE_MS = 20 * HOUR_MS;
/**
 * Firehose's longest buffering interval (FIREHOSE_MAX_BUFFER_MS), as a low-volume stream is
 * configured: fewer, larger objects. Reconcile allows for it when it checks an object's
 * events against the arrival its key records.
 */
export const SIMULATED_BUFFER_MS = FIREHOSE_MAX_BUFFER_MS;
/** Firehose's largest buffer size. */
export const SIMULATED_MAX_OBJECT_BYTES = 5 * 1024 * 1024;
export const ZIPF_EXPONENT = 1.1;
/** The share of each metric in the events (the rest of the unit interval is storage.gb). */
const METRIC_MIX = { apiCall: 0.8, docProcessed: 0.95 } as const;
const DAY_MS = 24 * HOUR_MS;
const SIM_EMAIL_DOMAIN = 'sim.saasctl.test';

export interface SimulateRequest {
  readonly tenants: number;
  readonly events: number;
  readonly days?: number;
  readonly from?: string;
  readonly to?: string;
  /** Numbers, or the text of a flag (checked here, so the message names the rule). */
  readonly duplicateRate?: number | string;
  readonly lateRate?: number | string;
  readonly malformedRate?: number | string;
  readonly seed?: number;
}

export interface SimulationSettings {
  readonly tenants: number;
  readonly events: number;
  /** The period of the events' ts: [from, to). */
  readonly from: Date;
  readonly to: Date;
  /**
   * Where the simulated clock stops: nothing arrives after it. It is `to` plus the longest
   * lateness, or the start of the current hour when that is earlier (never after now), so the
   * plan of a period that ended more than 20 h ago does not depend on when it is made.
   */
  readonly clockEnd: Date;
  readonly duplicateRate: number;
  readonly lateRate: number;
  readonly malformedRate: number;
  readonly seed: number;
}

/** Checks every input against its rule before anything is opened or written (exit 2). */
export function simulationSettings(request: SimulateRequest, now: Date = new Date()): SimulationSettings {
  const tenants = wholeNumber(request.tenants, '--tenants', 1, MAX_SIMULATED_TENANTS, 'INVALID_TENANT_COUNT');
  const events = wholeNumber(request.events, '--events', 1, MAX_SIMULATED_EVENTS, 'INVALID_EVENT_COUNT');
  const duplicateRate = rate(request.duplicateRate, '--duplicate-rate', DEFAULT_RATES.duplicate);
  const lateRate = rate(request.lateRate, '--late-rate', DEFAULT_RATES.late);
  const malformedRate = rate(request.malformedRate, '--malformed-rate', DEFAULT_RATES.malformed);
  const seed =
    request.seed === undefined
      ? DEFAULT_SEED
      : wholeNumber(request.seed, '--seed', 0, Number.MAX_SAFE_INTEGER, 'INVALID_SEED');
  const { from, to } = simulationPeriod(request, now);
  const hourNow = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  const clockEnd = new Date(Math.min(to.getTime() + MAX_LATE_MS, Math.max(to.getTime(), hourNow)));
  return { tenants, events, from, to, clockEnd, duplicateRate, lateRate, malformedRate, seed };
}

function simulationPeriod(request: SimulateRequest, now: Date): { from: Date; to: Date } {
  const explicit = request.from !== undefined || request.to !== undefined;
  if (request.days !== undefined) {
    if (explicit) throw usageError('PERIOD_CONFLICT', 'Give either --days or --from and --to, not both.');
    const days = wholeNumber(request.days, '--days', 1, MAX_SIMULATED_DAYS, 'INVALID_DAYS');
    // The days ending at the start of the current hour: a whole number of hours, all past.
    const to = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
    return { from: new Date(to - days * DAY_MS), to: new Date(to) };
  }
  if (request.from === undefined || request.to === undefined) {
    throw usageError('PERIOD_REQUIRED', 'Give the period: --days D, or --from and --to (ISO 8601 UTC).');
  }
  const from = instant(request.from, '--from');
  const to = instant(request.to, '--to');
  if (from >= to) {
    throw usageError(
      'INVALID_PERIOD',
      `Invalid period ${request.from} to ${request.to}: --from must be before --to.`,
    );
  }
  if (to > now.getTime()) {
    throw usageError(
      'PERIOD_IN_FUTURE',
      `Invalid period: --to ${request.to} is in the future (now ${now.toISOString()}); simulated events never arrive after now.`,
      ['End the period at or before now, or use --days D for the D days up to the current hour.'],
    );
  }
  if (to - from > MAX_SIMULATED_DAYS * DAY_MS) {
    throw usageError(
      'PERIOD_TOO_LONG',
      `Invalid period ${request.from} to ${request.to}: at most ${MAX_SIMULATED_DAYS} days can be simulated at once.`,
      ['Simulate a long history one quarter (or one month) at a time.'],
    );
  }
  return { from: new Date(from), to: new Date(to) };
}

/** An ISO 8601 UTC time as events write it, or a date (its midnight UTC). */
function instant(text: string, flag: string): number {
  const value = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const ms = parseTimestamp(value);
  if (ms === undefined) {
    throw usageError(
      'INVALID_TIMESTAMP',
      `Invalid ${flag} ${JSON.stringify(text)}: an ISO 8601 UTC time like 2026-11-01T00:00:00Z, or a date like 2026-11-01.`,
    );
  }
  return ms;
}

function wholeNumber(value: number, flag: string, min: number, max: number, code: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw usageError(
      code,
      `Invalid ${flag} ${String(value)}: a whole number from ${min} to ${max.toLocaleString('en-US')}.`,
    );
  }
  return value;
}

function rate(value: number | string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number) || number < 0 || number > MAX_SIMULATED_RATE) {
    throw usageError(
      'INVALID_RATE',
      `Invalid ${flag} ${JSON.stringify(value)}: a rate is a number from 0 to ${MAX_SIMULATED_RATE}.`,
    );
  }
  return number;
}

/** `sim-001` ... `sim-999`, then `sim-1000` ...: the pooled tenants a simulation onboards. */
export function simulatedTenantId(index: number): string {
  return `sim-${String(index).padStart(3, '0')}`;
}

export function simulatedAdminEmail(tenantId: string): string {
  return `${tenantId}@${SIM_EMAIL_DOMAIN}`;
}

export interface PlanInput extends SimulationSettings {
  /** The tenants events are spread over (their order matters: sort them). */
  readonly tenantIds: readonly string[];
  /** The delivery stream name in the lake keys. */
  readonly stream: string;
  readonly bufferMs?: number;
  readonly maxObjectBytes?: number;
}

/** A batch of valid events, as the aggregator Lambda receives it: applied once per id. */
export interface PlannedBatch {
  readonly id: string;
  readonly events: readonly UsageEvent[];
}

export interface QuarantineLine {
  readonly reason: string;
  /** The record as it was delivered. */
  readonly record: string;
  readonly batchId: string;
}

/** One Firehose object: what goes into the lake, to quarantine, and to the counters. */
export interface PlannedObject {
  readonly index: number;
  readonly key: string;
  /** The arrival of its oldest record: what the key is made of. */
  readonly arrival: Date;
  readonly uuid: string;
  /** Lake lines: valid events, malformed records (objects, or text when not JSON) and duplicate copies. */
  readonly lines: readonly unknown[];
  readonly quarantine?: { readonly uuid: string; readonly lines: readonly QuarantineLine[] };
  /** The object's valid events, absent when it holds none. */
  readonly batch?: PlannedBatch;
  /**
   * Batches delivered again (Firehose duplicates: a copy of a record in this object). Applying
   * them again under the same id is a no-op for the counters, as it is for the Lambda.
   */
  readonly redeliveries: readonly PlannedBatch[];
  /** Records first delivered in this object: valid and malformed, copies not included. */
  readonly records: number;
  readonly duplicates: number;
}

export interface SimulationSummary {
  /** Records the clients sent: valid and malformed, not counting duplicate copies. */
  readonly events: number;
  readonly valid: number;
  readonly duplicates: number;
  readonly late: number;
  readonly malformed: number;
  readonly objects: number;
  readonly batches: number;
  readonly redeliveries: number;
  /** The five tenants with the most valid events, most first. */
  readonly heavyTenants: readonly { readonly tenantId: string; readonly events: number }[];
  /** A digest of everything the plan depends on: ids, keys and batch ids derive from it. */
  readonly runId: string;
}

type MalformedKind = 'not-json' | 'unknown-metric' | 'negative-quantity' | 'missing-event-id' | 'bad-ts';
const MALFORMED_KINDS: readonly MalformedKind[] = [
  'not-json',
  'unknown-metric',
  'negative-quantity',
  'missing-event-id',
  'bad-ts',
];
const UNKNOWN_METRICS = ['api.calls', 'storage.tb', 'doc.proccessed', 'API.CALL'];

/** One record as it reaches Firehose. */
export interface SimulatedRecord {
  /** The event the client meant to send (for a malformed record, what it was made from). */
  readonly event: UsageEvent;
  /** What the lake gets: the event, or the malformed record (text when it is not JSON). */
  readonly line: unknown;
  readonly arrival: Date;
  readonly late: boolean;
  /** Why the aggregator refuses it. */
  readonly malformed?: string;
  /** Delivered twice, the copy in the same object or the next one. */
  readonly duplicate?: 'same' | 'next';
}

/** Everything drawn for one event. */
interface Draw {
  readonly event: UsageEvent;
  readonly tenant: number;
  readonly arrival: number;
  readonly late: boolean;
  readonly malformed?: { readonly kind: MalformedKind; readonly variant: number };
  readonly duplicate?: 'same' | 'next';
}

interface LakeRecord {
  readonly line: unknown;
  /** Its size in the object, newline included. */
  readonly bytes: number;
  readonly malformed?: { readonly reason: string; readonly record: string };
}

interface OpenObject {
  readonly index: number;
  readonly arrival: number;
  readonly lines: unknown[];
  bytes: number;
  readonly events: UsageEvent[];
  readonly quarantine: QuarantineLine[];
  readonly sameCopies: UsageEvent[];
  readonly nextCopies: UsageEvent[];
  /** The previous object's batch, when copies of its records open this one. */
  readonly carriedFrom?: PlannedBatch;
  /** How many such copies. */
  readonly carried: number;
  records: number;
}

/**
 * The plan of one simulation. Every event is a pure function of the run and its number (a
 * counter-based generator), so the objects stream out in arrival order while only the events
 * still to arrive are held: the current hour's and the late ones (up to 20 h of them), as
 * (arrival, number) pairs in a heap.
 */
export class Simulation {
  readonly runId: string;
  private readonly tenantIds: readonly string[];
  private readonly registry = new MetricRegistry();
  private readonly rng = new Mulberry32(0);
  private readonly seed32: number;
  private readonly runTag: string;
  private readonly bufferMs: number;
  private readonly maxObjectBytes: number;
  private readonly from: number;
  private readonly clockEnd: number;
  private readonly spanStart: Float64Array;
  private readonly spanEnd: Float64Array;
  private readonly counts: Float64Array;
  /** Cumulative Zipf weights by rank, and the tenant (index) holding each rank. */
  private readonly zipf: Float64Array;
  private readonly tenantAtRank: Uint32Array;
  private readonly storageBase: Float64Array;
  private readonly storageGrowth: Float64Array;
  private readonly perTenant: Float64Array;
  private tally = { events: 0, valid: 0, duplicates: 0, late: 0, malformed: 0, objects: 0 };
  private batches = 0;
  private redeliveries = 0;

  constructor(private readonly input: PlanInput) {
    if (input.tenantIds.length === 0) {
      throw usageError('NO_TENANTS', 'A simulation needs at least one tenant to spread events over.');
    }
    this.tenantIds = input.tenantIds;
    this.bufferMs = input.bufferMs ?? SIMULATED_BUFFER_MS;
    this.maxObjectBytes = input.maxObjectBytes ?? SIMULATED_MAX_OBJECT_BYTES;
    this.from = input.from.getTime();
    this.clockEnd = input.clockEnd.getTime();
    this.runId = createHash('sha256')
      .update(
        JSON.stringify({
          plan: 1,
          seed: input.seed,
          tenants: input.tenantIds,
          events: input.events,
          from: input.from.toISOString(),
          to: input.to.toISOString(),
          clockEnd: input.clockEnd.toISOString(),
          rates: [input.duplicateRate, input.lateRate, input.malformedRate],
          bufferMs: this.bufferMs,
          maxObjectBytes: this.maxObjectBytes,
        }),
      )
      .digest('hex');
    this.runTag = this.runId.slice(0, 8);
    this.seed32 = Number.parseInt(this.runId.slice(8, 16), 16) >>> 0;

    const setup = new Mulberry32(this.seed32);
    [this.spanStart, this.spanEnd, this.counts] = hourPlan(
      this.from,
      input.to.getTime(),
      input.events,
      setup,
    );
    const n = this.tenantIds.length;
    // Ranks are shuffled so that the heaviest tenant is not always the first one.
    const rankOf = Uint32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(setup.next() * (i + 1));
      [rankOf[i], rankOf[j]] = [rankOf[j], rankOf[i]];
    }
    this.tenantAtRank = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.tenantAtRank[rankOf[i]] = i;
    this.zipf = new Float64Array(n);
    let total = 0;
    for (let r = 0; r < n; r++) {
      total += 1 / Math.pow(r + 1, ZIPF_EXPONENT);
      this.zipf[r] = total;
    }
    this.storageBase = Float64Array.from({ length: n }, () => 5 + 495 * setup.next());
    this.storageGrowth = Float64Array.from({ length: n }, () => 0.02 + 0.18 * setup.next());
    this.perTenant = new Float64Array(n);
  }

  /**
   * Every record in arrival order, as Firehose receives it (copies not included: they are
   * Firehose's own doing). For looking at the traffic; `objects` is what gets written.
   */
  *records(): Generator<SimulatedRecord, void, undefined> {
    for (const { draw, record } of this.arrivalOrder()) {
      yield {
        event: draw.event,
        line: record.line,
        arrival: new Date(draw.arrival),
        late: draw.late,
        ...(record.malformed ? { malformed: record.malformed.reason } : {}),
        ...(draw.duplicate ? { duplicate: draw.duplicate } : {}),
      };
    }
  }

  /** The lake objects in arrival order; the summary is complete once they have all been read. */
  *objects(): Generator<PlannedObject, void, undefined> {
    this.tally = { events: 0, valid: 0, duplicates: 0, late: 0, malformed: 0, objects: 0 };
    this.perTenant.fill(0);
    this.batches = 0;
    this.redeliveries = 0;
    let open: OpenObject | undefined;
    let index = 0;
    for (const { draw, record } of this.arrivalOrder()) {
      // A copy in the same object takes room in it; one for the next object, room in that one.
      const bytes = record.bytes * (draw.duplicate === 'same' ? 2 : 1);
      if (
        open &&
        (draw.arrival - open.arrival >= this.bufferMs || open.bytes + bytes > this.maxObjectBytes)
      ) {
        const closed = this.close(open, false);
        yield closed.object;
        open = this.openObject(index++, draw.arrival, closed.carried, closed.batch);
      }
      open ??= this.openObject(index++, draw.arrival, [], undefined);
      this.add(open, draw, record);
    }
    if (open) yield this.close(open, true).object;
  }

  /**
   * The events in arrival order (ties by number). Hour by hour, each hour's events join the
   * heap, and whatever arrives before the next hour starts leaves it: every event of a later
   * hour arrives after its ts, so after that.
   */
  private *arrivalOrder(): Generator<{ draw: Draw; record: LakeRecord }, void, undefined> {
    const heap = new ArrivalHeap();
    const hours = this.counts.length;
    let n = 0;
    for (let h = 0; h < hours; h++) {
      for (let i = 0; i < this.counts[h]; i++, n++) heap.push(this.arrivalOf(n, h), n, h);
      const limit = h + 1 < hours ? this.spanStart[h + 1] : Infinity;
      while (heap.size > 0 && heap.peekArrival() < limit) {
        const [number, hour] = heap.pop();
        const draw = this.draw(number, hour);
        yield { draw, record: this.record(draw) };
      }
    }
  }

  summary(): SimulationSummary {
    const heavy = Array.from(this.perTenant, (events, i) => ({ tenantId: this.tenantIds[i], events }))
      .filter((t) => t.events > 0)
      .sort((a, b) => b.events - a.events || a.tenantId.localeCompare(b.tenantId))
      .slice(0, 5);
    return {
      ...this.tally,
      batches: this.batches,
      redeliveries: this.redeliveries,
      heavyTenants: heavy,
      runId: this.runId,
    };
  }

  /** The id of an object's batch: short (it is kept on every counter it touches) and stable. */
  batchId(index: number): string {
    return `sim-${this.runId.slice(0, 22)}-${index}`;
  }

  private openObject(
    index: number,
    arrival: number,
    carried: readonly UsageEvent[],
    carriedFrom: PlannedBatch | undefined,
  ): OpenObject {
    return {
      index,
      arrival,
      lines: [...carried],
      bytes: carried.reduce((sum, event) => sum + lineBytes(event), 0),
      events: [],
      quarantine: [],
      sameCopies: [],
      nextCopies: [],
      ...(carried.length > 0 && carriedFrom ? { carriedFrom } : {}),
      carried: carried.length,
      records: 0,
    };
  }

  private add(open: OpenObject, draw: Draw, record: LakeRecord): void {
    open.lines.push(record.line);
    open.bytes += record.bytes;
    open.records++;
    this.tally.events++;
    if (draw.late) this.tally.late++;
    if (record.malformed) {
      open.quarantine.push({ ...record.malformed, batchId: this.batchId(open.index) });
      this.tally.malformed++;
      return;
    }
    open.events.push(draw.event);
    this.tally.valid++;
    this.perTenant[draw.tenant]++;
    if (draw.duplicate === 'same') {
      open.sameCopies.push(draw.event);
      open.bytes += record.bytes;
    } else if (draw.duplicate === 'next') {
      open.nextCopies.push(draw.event);
    }
    if (draw.duplicate) this.tally.duplicates++;
  }

  private close(
    open: OpenObject,
    last: boolean,
  ): { object: PlannedObject; batch?: PlannedBatch; carried: UsageEvent[] } {
    // The last object has no next one: its late copies go into it.
    const copies = last ? [...open.sameCopies, ...open.nextCopies] : open.sameCopies;
    const batch = open.events.length > 0 ? { id: this.batchId(open.index), events: open.events } : undefined;
    const redeliveries: PlannedBatch[] = [];
    if (open.carriedFrom) redeliveries.push(open.carriedFrom);
    if (batch && copies.length > 0) redeliveries.push(batch);
    const arrival = new Date(open.arrival);
    const uuid = uuidOf(this.runId, 'lake', open.index);
    this.tally.objects++;
    if (batch) this.batches++;
    this.redeliveries += redeliveries.length;
    const object: PlannedObject = {
      index: open.index,
      key: lakeObjectKey({ stream: this.input.stream, arrival, uuid }),
      arrival,
      uuid,
      lines: [...open.lines, ...copies],
      ...(open.quarantine.length > 0
        ? { quarantine: { uuid: uuidOf(this.runId, 'quarantine', open.index), lines: open.quarantine } }
        : {}),
      ...(batch ? { batch } : {}),
      redeliveries,
      records: open.records,
      duplicates: open.carried + copies.length,
    };
    return { object, ...(batch ? { batch } : {}), carried: last ? [] : open.nextCopies };
  }

  /** The lake line of a drawn event, and why it is refused when malformed. */
  private record(draw: Draw): LakeRecord {
    if (!draw.malformed) return { line: draw.event, bytes: lineBytes(draw.event) };
    const { line, text } = malformedLine(draw.event, draw.malformed.kind, draw.malformed.variant);
    let reason = 'not JSON';
    if (draw.malformed.kind !== 'not-json') {
      const result = validateEvent(line, this.registry, new Date(draw.arrival));
      if (result.ok)
        throw new Error(`A simulated malformed record passed validation: ${JSON.stringify(line)}`);
      reason = result.reason;
    }
    return { line, bytes: Buffer.byteLength(JSON.stringify(line)) + 1, malformed: { reason, record: text } };
  }

  /** Event `n` of the run, in hour `h`: the same draws every time, whatever the order. */
  private draw(n: number, h: number): Draw {
    const rng = this.rng;
    rng.reseed(fmix32(this.seed32 ^ fmix32(Math.imul(n + 1, 0x9e3779b1))));
    const start = this.spanStart[h];
    const ts = start + Math.floor(rng.next() * (this.spanEnd[h] - start));
    const tenant =
      this.tenantAtRank[searchCumulative(this.zipf, rng.next() * this.zipf[this.zipf.length - 1])];
    const m = rng.next();
    const q = rng.next();
    const malformed = rng.next() < this.input.malformedRate;
    const kind = rng.next();
    const lateDrawn = rng.next() < this.input.lateRate;
    const lag = rng.next();
    const duplicate = rng.next() < this.input.duplicateRate;
    const placement = rng.next();

    const metric =
      m < METRIC_MIX.apiCall ? 'api.call' : m < METRIC_MIX.docProcessed ? 'doc.processed' : 'storage.gb';
    const quantity =
      metric === 'api.call'
        ? 1 + Math.floor(q * 5)
        : metric === 'doc.processed'
          ? 1 + Math.floor(q * 3)
          : this.storageReading(tenant, ts);
    const { arrival, late } = this.timing(ts, lateDrawn, lag);
    const event: UsageEvent = {
      eventId: `sim-${this.input.seed}-${this.runTag}-${n}`,
      tenantId: this.tenantIds[tenant],
      metric,
      quantity,
      ts: new Date(ts).toISOString(),
    };
    const kindIndex = Math.min(MALFORMED_KINDS.length - 1, Math.floor(kind * MALFORMED_KINDS.length));
    return {
      event,
      tenant,
      arrival,
      late,
      ...(malformed
        ? {
            malformed: {
              kind: MALFORMED_KINDS[kindIndex],
              variant: kind * MALFORMED_KINDS.length - kindIndex,
            },
          }
        : duplicate
          ? { duplicate: placement < 0.5 ? ('same' as const) : ('next' as const) }
          : {}),
    };
  }

  /** Only the arrival of event `n`: the same draws as `draw`, without making the event. */
  private arrivalOf(n: number, h: number): number {
    const rng = this.rng;
    rng.reseed(fmix32(this.seed32 ^ fmix32(Math.imul(n + 1, 0x9e3779b1))));
    const start = this.spanStart[h];
    const ts = start + Math.floor(rng.next() * (this.spanEnd[h] - start));
    for (let skipped = 0; skipped < 5; skipped++) rng.next(); // tenant, metric, quantity, malformed, kind
    const lateDrawn = rng.next() < this.input.lateRate;
    return this.timing(ts, lateDrawn, rng.next()).arrival;
  }

  /**
   * A few seconds after ts; or, for a late event, 1 to 20 hours after it when the clock leaves
   * room for that (otherwise it is on time). Never after the clock stops.
   */
  private timing(ts: number, lateDrawn: boolean, lag: number): { arrival: number; late: boolean } {
    const room = Math.min(MAX_LATE_MS, this.clockEnd - ts);
    if (lateDrawn && room >= MIN_LATE_MS) {
      return { arrival: ts + MIN_LATE_MS + Math.floor(lag * (room - MIN_LATE_MS)), late: true };
    }
    return { arrival: Math.min(ts + 1000 + Math.floor(lag * 9000), this.clockEnd), late: false };
  }

  /** A tenant's storage, growing slowly over the period: a reading in GB, to the MB. */
  private storageReading(tenant: number, ts: number): number {
    const months = (ts - this.from) / (30 * DAY_MS);
    return Math.round(this.storageBase[tenant] * (1 + this.storageGrowth[tenant] * months) * 1000) / 1000;
  }
}

/** What clients really send that the aggregator must refuse without failing the batch. */
function malformedLine(
  event: UsageEvent,
  kind: MalformedKind,
  variant: number,
): { line: unknown; text: string } {
  const json = JSON.stringify(event);
  switch (kind) {
    case 'not-json': {
      // A record cut short: never closes its object, so it never parses.
      const text = json.slice(0, 8 + Math.floor(variant * (json.length - 16)));
      return { line: text, text };
    }
    case 'unknown-metric': {
      const line = { ...event, metric: UNKNOWN_METRICS[Math.floor(variant * UNKNOWN_METRICS.length)] };
      return { line, text: JSON.stringify(line) };
    }
    case 'negative-quantity': {
      const line = { ...event, quantity: -Math.max(1, event.quantity) };
      return { line, text: JSON.stringify(line) };
    }
    case 'missing-event-id': {
      const { eventId: _eventId, ...line } = event;
      return { line, text: JSON.stringify(line) };
    }
    case 'bad-ts': {
      const ts =
        variant < 1 / 3
          ? event.ts.replace('T', ' ').replace(/\.\d{3}Z$/, '')
          : variant < 2 / 3
            ? Date.parse(event.ts)
            : event.ts.replace(/Z$/, '+00:00');
      const line = { ...event, ts };
      return { line, text: JSON.stringify(line) };
    }
  }
}

/**
 * The size of an event's NDJSON line, newline included, without writing it: its fields are
 * ASCII with nothing to escape, and a JSON number is written as String writes it.
 */
export function lineBytes(event: UsageEvent): number {
  // {"eventId":"","tenantId":"","metric":"","quantity":,"ts":""} and the newline
  const punctuation = 61;
  return (
    punctuation +
    event.eventId.length +
    event.tenantId.length +
    event.metric.length +
    String(event.quantity).length +
    event.ts.length
  );
}

/**
 * The period's hours (the first and last may be partial), weighted by a diurnal pattern with
 * quieter weekends and some noise, and how many events each gets: exactly `events` in all.
 */
function hourPlan(
  from: number,
  to: number,
  events: number,
  rng: Mulberry32,
): [Float64Array, Float64Array, Float64Array] {
  const starts: number[] = [];
  const ends: number[] = [];
  const weights: number[] = [];
  for (let t = Math.floor(from / HOUR_MS) * HOUR_MS; t < to; t += HOUR_MS) {
    const start = Math.max(t, from);
    const end = Math.min(t + HOUR_MS, to);
    starts.push(start);
    ends.push(end);
    weights.push(diurnalWeight(t) * ((end - start) / HOUR_MS) * (0.85 + 0.3 * rng.next()));
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const quotas = weights.map((w) => (events * w) / total);
  const counts = quotas.map((quota) => Math.floor(quota));
  // Largest remainders get the events the floors left out (ties to the earlier hour).
  let left = events - counts.reduce((a, b) => a + b, 0);
  const order = quotas
    .map((_quota, i) => i)
    .sort((a, b) => quotas[b] - counts[b] - (quotas[a] - counts[a]) || a - b);
  for (let i = 0; left > 0; i = (i + 1) % order.length, left--) counts[order[i]]++;
  return [Float64Array.from(starts), Float64Array.from(ends), Float64Array.from(counts)];
}

/**
 * Business traffic by UTC hour: a peak mid-afternoon (Europe's afternoon, the Americas'
 * morning), a trough at night a quarter of it, weekends at half.
 */
export function diurnalWeight(hourStartMs: number): number {
  const date = new Date(hourStartMs);
  const daily = 0.25 + 0.75 * (0.5 - 0.5 * Math.cos((2 * Math.PI * (date.getUTCHours() - 3)) / 24));
  const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6;
  return (weekend ? 0.5 : 1) * daily;
}

/** The first index whose cumulative weight exceeds `target`. */
function searchCumulative(cumulative: Float64Array, target: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (cumulative[mid] > target) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** A UUID-shaped digest: the same object gets the same key on every run of the same plan. */
function uuidOf(runId: string, purpose: string, index: number): string {
  const hex = createHash('sha256').update(`${runId}:${purpose}:${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** murmur3's finaliser: spreads a 32-bit value over all 32 bits. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: a small, fast 32-bit PRNG, good enough for simulated traffic (not for secrets). */
export class Mulberry32 {
  constructor(private state: number) {}

  reseed(state: number): void {
    this.state = state;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** A binary min-heap of (arrival, event number, hour) in typed arrays, ordered by arrival then number. */
class ArrivalHeap {
  private arrivals = new Float64Array(1024);
  private numbers = new Float64Array(1024);
  private hours = new Uint32Array(1024);
  size = 0;

  push(arrival: number, number: number, hour: number): void {
    if (this.size === this.arrivals.length) this.grow();
    let i = this.size++;
    this.set(i, arrival, number, hour);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peekArrival(): number {
    return this.arrivals[0];
  }

  /** The earliest (number, hour). */
  pop(): [number, number] {
    const top: [number, number] = [this.numbers[0], this.hours[0]];
    const last = --this.size;
    if (last > 0) {
      this.set(0, this.arrivals[last], this.numbers[last], this.hours[last]);
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < last && this.less(left, smallest)) smallest = left;
        if (right < last && this.less(right, smallest)) smallest = right;
        if (smallest === i) break;
        this.swap(i, smallest);
        i = smallest;
      }
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return (
      this.arrivals[a] < this.arrivals[b] ||
      (this.arrivals[a] === this.arrivals[b] && this.numbers[a] < this.numbers[b])
    );
  }

  private set(i: number, arrival: number, number: number, hour: number): void {
    this.arrivals[i] = arrival;
    this.numbers[i] = number;
    this.hours[i] = hour;
  }

  private swap(a: number, b: number): void {
    const [arrival, number, hour] = [this.arrivals[a], this.numbers[a], this.hours[a]];
    this.set(a, this.arrivals[b], this.numbers[b], this.hours[b]);
    this.set(b, arrival, number, hour);
  }

  private grow(): void {
    const size = this.arrivals.length * 2;
    const arrivals = new Float64Array(size);
    const numbers = new Float64Array(size);
    const hours = new Uint32Array(size);
    arrivals.set(this.arrivals);
    numbers.set(this.numbers);
    hours.set(this.hours);
    [this.arrivals, this.numbers, this.hours] = [arrivals, numbers, hours];
  }
}
