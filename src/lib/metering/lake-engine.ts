import { readdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import type { S3Client } from '@aws-sdk/client-s3';

import { SaasctlError, usageError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import { HOUR_MS } from './events.js';
import { listLakeObjects, type LakeObjectRef } from './lake.js';
import type { LakeAggregation, LakeAggregationRequest, LakeCell, LakeProgress } from './lake-aggregate.js';
import { EARLY_ARRIVAL_MS, latestArrival, parseLakeObjectKey, partitionsForPeriod } from './lake-layout.js';
import { CellTable, CellTranslator } from './lake-cells.js';
import { fnv1a, IdSet, UuidSet, uuidString } from './lake-ids.js';
import { LakeObjectParser, type ParsedObject, type ParseSettings } from './lake-parse.js';
import type { WorkerRequest, WorkerResponse } from './lake-worker.js';
import { MetricRegistry } from './metrics.js';

/** Where the stream engine reads lake objects from: the bucket, or a copy of it on disk. */
export interface LakeSource {
  /** Every object under the prefixes, prefix by prefix, each prefix's keys in key order. */
  list(prefixes: readonly string[]): AsyncIterable<LakeObjectRef>;
  /** One object's bytes as stored (gzip). */
  fetch(key: string): Promise<Uint8Array>;
}

export function s3LakeSource(s3: S3Client, bucket: string): LakeSource {
  return {
    list: (prefixes) => listLakeObjects(s3, bucket, prefixes),
    async fetch(key) {
      const { Body } = await s3.send(new (sdk.s3().GetObjectCommand)({ Bucket: bucket, Key: key }));
      return Body ? Body.transformToByteArray() : new Uint8Array();
    },
  };
}

/** A lake copied to disk (`aws s3 sync s3://<bucket>/raw <root>/raw`), keys as relative paths. */
export function fileLakeSource(root: string): LakeSource {
  return {
    async *list(prefixes) {
      for (const prefix of prefixes) {
        let names: string[];
        try {
          names = await readdir(path.join(root, prefix), { recursive: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
        const keys = names.map((name) => prefix + name.split(path.sep).join('/'));
        for (const key of keys.sort()) {
          const info = await stat(path.join(root, key));
          if (info.isFile()) yield { key, lastModified: info.mtime };
        }
      }
    },
    fetch: (key) => readFile(path.join(root, key)),
  };
}

export interface StreamEngineOptions {
  /** Objects downloaded and parsed at once. Default 16. */
  readonly concurrency?: number;
  /**
   * Parser threads; 0 parses on the calling thread. Default: one fewer than the machine's cores
   * (at least one, at most 4), since the calling thread folds and deduplicates what they parse.
   */
  readonly workers?: number;
  readonly onProgress?: (progress: LakeProgress) => void;
  /** Objects smaller than this many (compressed) bytes are parsed on the calling thread. Default 32 KB. */
  readonly inlineBelow?: number;
}

const DEFAULT_CONCURRENCY = 16;

/**
 * The stream engine: aggregates the raw lake for a period. It lists the period's hour
 * partitions (plus the early and late arrival margins), downloads objects with bounded
 * concurrency, gunzips and parses them on worker threads, and folds their events into one
 * cell per tenant, metric and hour, counting each eventId once.
 *
 * Memory does not grow with the length of the period. Deduplication is exact (on the whole id,
 * never a hash alone) and kept per event hour; an hour's id set is dropped as soon as every
 * object that can hold its on-time events (arrival up to `lateArrivalHours` after it) is done.
 * Events arriving later still (in a later partition, when the read window covers one) are held
 * apart by id and checked against their hour's on-time objects in a second, targeted pass, so a
 * very late copy of an event already counted is still a duplicate.
 */
export async function aggregateLake(
  source: LakeSource,
  request: LakeAggregationRequest,
  options: StreamEngineOptions = {},
): Promise<LakeAggregation> {
  const from = request.from.getTime();
  const to = request.to.getTime();
  if (!(from < to)) throw usageError('INVALID_PERIOD', 'Invalid period: --from must be before --to.');
  const registry = new MetricRegistry(request.metrics ?? []);
  const lateMs = request.lateArrivalHours * HOUR_MS;
  const prefixes = partitionsForPeriod(request.from, request.to, request.lateArrivalHours);
  const table = new CellTable(registry);
  const pool = new ParserPool(
    table,
    { from, to, tenantId: request.tenantId, metrics: registry.list() },
    options.workers ?? Math.max(1, Math.min(4, availableParallelism() - 1)),
    options.inlineBelow ?? INLINE_BYTES,
  );
  const folder = new CellFolder(table, request.reconciledAt ?? new Map());
  const foreignKeys: string[] = [];
  const keysByPrefix = new Map<number, string[]>();
  const stats = { listed: 0, listingDone: false, objects: 0, bytes: 0, malformed: 0, outsidePeriod: 0 };
  // Objects not yet folded in, per partition hour; with the partition being listed, they bound
  // which event hours may still see on-time events.
  const outstanding = new Map<number, number>();
  let listingAt = -Infinity;
  const settledBefore = (): number => {
    let min = stats.listingDone ? Infinity : listingAt;
    for (const partition of outstanding.keys()) min = Math.min(min, partition);
    return min;
  };

  let failure: { error: unknown } | undefined;
  const inFlight = new Set<Promise<void>>();
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const progress = (): void =>
    options.onProgress?.({
      listed: stats.listed,
      listingDone: stats.listingDone,
      objects: stats.objects,
      bytes: stats.bytes,
      events: folder.events,
    });

  try {
    for await (const { key, lastModified } of source.list(prefixes)) {
      if (failure) break;
      const parts = parseLakeObjectKey(key);
      if (!parts) {
        foreignKeys.push(key);
        continue;
      }
      const partition = Date.parse(`${parts.prefixHour}:00:00Z`);
      listingAt = Math.max(listingAt, partition);
      outstanding.set(partition, (outstanding.get(partition) ?? 0) + 1);
      const keys = keysByPrefix.get(partition) ?? [];
      keys.push(key);
      keysByPrefix.set(partition, keys);
      stats.listed++;
      const arrival = latestArrival(parts.arrival);
      const task = (async () => {
        const data = await source.fetch(key);
        stats.bytes += data.byteLength;
        const parsed = await parseObject(pool, key, data, arrival);
        stats.objects++;
        stats.malformed += parsed.malformed;
        stats.outsidePeriod += parsed.outsidePeriod;
        // An hour's ids are about as many as its partition's objects hold: its id set starts that
        // large rather than growing (and rehashing) its way there.
        const perObject =
          stats.objects > 1 ? (folder.events + folder.duplicates) / (stats.objects - 1) : parsed.count;
        const expected = (keysByPrefix.get(partition)?.length ?? 1) * perObject;
        // Written after the hour's last full reconcile began: that reconcile cannot have read it.
        // Without a write time, the latest its records can have arrived stands in.
        folder.fold(parsed, partition, lateMs, lastModified?.getTime() ?? arrival, expected);
        const left = (outstanding.get(partition) ?? 1) - 1;
        if (left === 0) outstanding.delete(partition);
        else outstanding.set(partition, left);
        folder.release(settledBefore(), lateMs);
        progress();
      })().catch((error: unknown) => {
        failure ??= { error };
      });
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.error;
    stats.listingDone = true;
    folder.release(settledBefore(), lateMs);
    progress();

    // The second pass: very late events of hours that had on-time events, checked against the
    // objects that held those.
    const hours = folder.hoursToVerify();
    if (hours.length > 0) {
      const partitions = new Set<number>();
      for (const hour of hours) {
        const first = Math.floor((hour - EARLY_ARRIVAL_MS) / HOUR_MS) * HOUR_MS;
        for (let p = first; p <= hour + lateMs; p += HOUR_MS) partitions.add(p);
      }
      const keys = [...partitions].flatMap((p) => keysByPrefix.get(p) ?? []);
      await mapBounded(keys, concurrency, async (key) => {
        const parts = parseLakeObjectKey(key)!;
        const parsed = await parseObject(pool, key, await source.fetch(key), latestArrival(parts.arrival));
        folder.verify(parsed, Date.parse(`${parts.prefixHour}:00:00Z`), lateMs);
      });
    }
    folder.settleLate();
  } finally {
    await Promise.allSettled(inFlight);
    await pool.close();
  }
  return {
    cells: folder.cells(),
    objects: stats.objects,
    bytes: stats.bytes,
    events: folder.events,
    duplicates: folder.duplicates,
    malformed: stats.malformed,
    outsidePeriod: stats.outsidePeriod,
    foreignKeys,
    arrivedAfterReconcile: folder.arrivedAfterReconcile(),
  };
}

/** An event hour's ids: UUIDs packed, any others by their bytes. */
interface HourIds {
  readonly uuids: UuidSet;
  others: IdSet | undefined;
  /** How many ids the hour was expected to have when its sets were made. */
  readonly expected: number;
}

/** Folds parsed objects (their cells in the table's numbers) into cells, deduplicating by eventId per event hour. */
class CellFolder {
  events = 0;
  duplicates = 0;
  private quantity: Float64Array = new Float64Array(1024);
  private count: Float64Array = new Float64Array(1024);
  /** What arrived after the hour's last full reconcile, per cell. */
  private lateQuantity: Float64Array = new Float64Array(1024);
  private lateCount: Float64Array = new Float64Array(1024);
  /** On-time ids per event hour, until the hour is settled. */
  private readonly open = new Map<number, HourIds>();
  /** Hours whose on-time ids were seen (and may since have been dropped). */
  private readonly seenHours = new Set<number>();
  /** Very late events per event hour, by id: counted once verified. */
  private readonly late = new Map<number, Map<string, LateEvent>>();
  /** The largest id set released so far: with the open ones, the size new ones start at. */
  private lastSetSize = 0;

  constructor(
    private readonly table: CellTable,
    private readonly reconciledAt: ReadonlyMap<number, number>,
  ) {}

  /**
   * Folds an object in; `written` is when it was written to the lake, `expected` how many
   * events the partition's hour likely has.
   */
  fold(parsed: ParsedObject, partition: number, lateMs: number, written: number, expected = 0): void {
    this.reserve();
    const { cell, quantity: quantities, uuids, others, otherIds, otherEnds, count } = parsed;
    const hourOf = this.table.hour;
    // Everything that depends only on the hour is settled when the hour changes: lines mostly
    // come in time order.
    let hour = Number.NaN;
    let ids: HourIds | undefined;
    let after = false;
    let other = 0;
    let nextOther = others.length > 0 ? others[0] : -1;
    // New sets are sized by the share of ids in each form, as in this object.
    const packedShare = count === 0 ? 1 : 1 - others.length / count;
    for (let i = 0; i < count; i++) {
      const c = cell[i];
      if (hourOf[c] !== hour) {
        hour = hourOf[c];
        after = writtenAfter(written, this.reconciledAt.get(hour));
        // Very late for its hour: held apart by id (no set).
        ids =
          partition > hour + lateMs
            ? undefined
            : this.idsOf(hour, hour === partition ? expected : 0, packedShare);
      }
      let fresh: boolean;
      if (i === nextOther) {
        const start = other === 0 ? 0 : otherEnds[other - 1];
        const end = otherEnds[other++];
        nextOther = other < others.length ? others[other] : -1;
        if (ids === undefined) {
          this.holdLate(c, latin1(otherIds, start, end), quantities[i], after);
          continue;
        }
        ids.others ??= new IdSet(ids.expected * (1 - packedShare));
        fresh = ids.others.add(fnv1a(otherIds, start, end), otherIds, start, end);
      } else {
        if (ids === undefined) {
          this.holdLate(c, uuidString(uuids, 4 * i), quantities[i], after);
          continue;
        }
        fresh = ids.uuids.add(uuids, 4 * i);
      }
      if (fresh) this.add(c, quantities[i], after);
      else this.duplicates++;
    }
  }

  private idsOf(hour: number, atLeast: number, packedShare: number): HourIds {
    let ids = this.open.get(hour);
    if (!ids) {
      // Hours are much alike: sized for the fullest hour so far, a set rarely has to grow.
      let expected = Math.max(this.lastSetSize, atLeast);
      for (const other of this.open.values()) expected = Math.max(expected, sizeOf(other));
      ids = { uuids: new UuidSet(expected * packedShare), others: undefined, expected };
      this.open.set(hour, ids);
      this.seenHours.add(hour);
    }
    return ids;
  }

  private holdLate(cell: number, id: string, quantity: number, afterReconcile: boolean): void {
    const hour = this.table.hour[cell];
    let byId = this.late.get(hour);
    if (!byId) this.late.set(hour, (byId = new Map<string, LateEvent>()));
    if (byId.has(id)) this.duplicates++;
    else byId.set(id, { cell, quantity, afterReconcile });
  }

  /** Drops the id sets of the hours no unread object can add an on-time event to. */
  release(settledBefore: number, lateMs: number): void {
    for (const [hour, ids] of this.open) {
      if (hour + lateMs < settledBefore) {
        this.lastSetSize = Math.max(this.lastSetSize, sizeOf(ids));
        this.open.delete(hour);
      }
    }
  }

  hoursToVerify(): number[] {
    return [...this.late.keys()].filter((hour) => this.seenHours.has(hour));
  }

  /**
   * Second pass: a very late event whose id an on-time object of its hour holds is a duplicate.
   * The pass reads the on-time partitions of several hours at once, so an object may be on time
   * for one hour and very late for another: only its on-time events are compared.
   */
  verify(parsed: ParsedObject, partition: number, lateMs: number): void {
    const { cell, uuids, others, otherIds, otherEnds } = parsed;
    let other = 0;
    for (let i = 0; i < parsed.count; i++) {
      const isOther = other < others.length && others[other] === i;
      const otherStart = isOther && other > 0 ? otherEnds[other - 1] : 0;
      if (isOther) other++;
      const hour = this.table.hour[cell[i]];
      if (partition > hour + lateMs) continue;
      const byId = this.late.get(hour);
      if (!byId || byId.size === 0) continue;
      const id = isOther ? latin1(otherIds, otherStart, otherEnds[other - 1]) : uuidString(uuids, 4 * i);
      if (byId.delete(id)) this.duplicates++;
    }
  }

  settleLate(): void {
    this.reserve();
    for (const byId of this.late.values()) {
      for (const { cell, quantity, afterReconcile } of byId.values())
        this.add(cell, quantity, afterReconcile);
    }
    this.late.clear();
  }

  cells(): LakeCell[] {
    const cells: LakeCell[] = [];
    for (let c = 0; c < this.table.size; c++) {
      if (this.count[c] === 0) continue;
      const { tenantId, metric, hour } = this.table.name(c);
      cells.push({ tenantId, metric, hour, quantity: this.quantity[c], events: this.count[c] });
    }
    return cells;
  }

  arrivedAfterReconcile(): LakeCell[] {
    const cells: LakeCell[] = [];
    for (let c = 0; c < this.table.size; c++) {
      if (this.lateCount[c] === 0) continue;
      const { tenantId, metric, hour } = this.table.name(c);
      cells.push({ tenantId, metric, hour, quantity: this.lateQuantity[c], events: this.lateCount[c] });
    }
    return cells;
  }

  private add(cell: number, quantity: number, afterReconcile: boolean): void {
    this.events++;
    const max = this.table.isMax[cell] === 1;
    this.quantity[cell] = fold(max, this.count[cell]++, this.quantity[cell], quantity);
    if (afterReconcile) {
      this.lateQuantity[cell] = fold(max, this.lateCount[cell]++, this.lateQuantity[cell], quantity);
    }
  }

  /** Room for every cell the table has numbered. */
  private reserve(): void {
    const size = this.table.size;
    if (size <= this.count.length) return;
    const length = Math.max(size, 2 * this.count.length);
    this.quantity = grown(this.quantity, length);
    this.count = grown(this.count, length);
    this.lateQuantity = grown(this.lateQuantity, length);
    this.lateCount = grown(this.lateCount, length);
  }
}

function sizeOf(ids: HourIds): number {
  return ids.uuids.size + (ids.others?.size ?? 0);
}

function grown(array: Float64Array, length: number): Float64Array {
  const next = new Float64Array(length);
  next.set(array);
  return next;
}

/**
 * Whether an object written at `written` may have been missed by the reconcile that began at
 * `mark`. S3 keeps LastModified to the second, so an object written in the mark's second counts
 * as after it: reported once more rather than never.
 */
function writtenAfter(written: number, mark: number | undefined): boolean {
  return mark !== undefined && Math.floor(written / 1000) >= Math.floor(mark / 1000);
}

interface LateEvent {
  readonly cell: number;
  readonly quantity: number;
  readonly afterReconcile: boolean;
}

/** A cell's value with one more event: the sum, or the max for sampled metrics. */
function fold(max: boolean, count: number, value: number, quantity: number): number {
  if (count === 0) return quantity;
  return max ? Math.max(value, quantity) : value + quantity;
}

async function parseObject(pool: ParserPool, key: string, data: Uint8Array, arrival: number) {
  try {
    return await pool.parse(data, arrival);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SaasctlError('LAKE_OBJECT_UNREADABLE', `Could not read lake object ${key}: ${reason}`, {
      cause: err,
      actions: ['Lake objects are gzip NDJSON, as Firehose writes them: move anything else out of raw/.'],
    });
  }
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Objects a worker may have waiting before the calling thread parses the next one itself. */
const WORKER_QUEUE = 3;
/** Objects smaller than this (compressed) are parsed on the calling thread. */
const INLINE_BYTES = 32 * 1024;

/**
 * Parses objects on worker threads, the least busy first, and on the calling thread when they
 * are all busy. What it returns has its cells in the table's numbers.
 */
class ParserPool {
  /**
   * The calling thread parses too, when every worker already has WORKER_QUEUE objects waiting:
   * it folds what the workers parse, and with time to spare it takes a share of their work.
   */
  private readonly inline: LakeObjectParser;
  private readonly inlineCells: CellTranslator;
  private readonly workers: {
    worker: Worker;
    pending: Map<number, { resolve: (p: ParsedObject) => void; reject: (e: Error) => void }>;
  }[] = [];
  private nextId = 0;

  constructor(
    table: CellTable,
    settings: ParseSettings,
    count: number,
    private readonly inlineBelow: number,
  ) {
    this.inline = new LakeObjectParser(settings);
    this.inlineCells = new CellTranslator(table);
    for (let n = 0; n < count; n++) {
      const worker = startWorker(settings);
      const cells = new CellTranslator(table);
      const entry = { worker, pending: new Map() };
      worker.on('message', (response: WorkerResponse) => {
        const waiter = entry.pending.get(response.id);
        entry.pending.delete(response.id);
        if ('error' in response) {
          waiter?.reject(new Error(response.error));
          return;
        }
        // Every object names its new cells once, so each is learnt in order, waited for or not.
        try {
          cells.translate(response.parsed);
        } catch (err) {
          waiter?.reject(err as Error);
          return;
        }
        waiter?.resolve(response.parsed);
      });
      const failAll = (error: Error): void => {
        for (const waiter of entry.pending.values()) waiter.reject(error);
        entry.pending.clear();
      };
      worker.on('error', failAll);
      worker.on('exit', (code) => failAll(new Error(`A lake parser thread exited (code ${code}).`)));
      this.workers.push(entry);
    }
  }

  parse(data: Uint8Array, arrival: number): Promise<ParsedObject> {
    const entry = this.workers.reduce<(typeof this.workers)[number] | undefined>(
      (a, b) => (a === undefined || b.pending.size < a.pending.size ? b : a),
      undefined,
    );
    // A small object costs less to parse here than to post to a thread and back.
    if (entry === undefined || entry.pending.size >= WORKER_QUEUE || data.byteLength < this.inlineBelow) {
      return Promise.resolve().then(() => {
        const parsed = this.inline.parse(data, new Date(arrival));
        this.inlineCells.translate(parsed);
        return parsed;
      });
    }
    const id = this.nextId++;
    return new Promise<ParsedObject>((resolve, reject) => {
      entry.pending.set(id, { resolve, reject });
      // A Buffer may be a view of a shared pool: copy it out rather than transfer the pool.
      const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
      const request: WorkerRequest = { id, data: owned, arrival };
      entry.worker.postMessage(request, [owned.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }
}

/**
 * A parser thread. From TypeScript sources (the tests run through tsx) the worker is the .ts
 * sibling, and tsx's loader has to be registered in the thread before it can be imported.
 */
function startWorker(settings: ParseSettings): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./lake-worker.js', import.meta.url), { workerData: settings });
  }
  const source = new URL('./lake-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(boot, { eval: true, workerData: settings });
}

async function mapBounded<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
}
