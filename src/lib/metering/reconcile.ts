import { usageError } from '../cli/errors.js';
import type { UsageCounters } from './counters.js';
import { hourOf } from './events.js';
import type { LakeCell, LakeEngine } from './lake-aggregate.js';
import type { MetricRegistry } from './metrics.js';
import type { ReconcileMarks } from './reconcile-marks.js';
import type { HourKey } from './types.js';

export interface ReconcileRequest {
  readonly from: Date;
  readonly to: Date;
  readonly tenantId?: string;
  readonly fix?: boolean;
  /** How late after its hour an event can still arrive (Firehose partitions by arrival). */
  readonly lateArrivalHours?: number;
}

export interface DriftRow {
  readonly tenantId: string;
  readonly metric: string;
  readonly hour: HourKey;
  readonly lake: number;
  readonly counter: number;
  /** lake - counter: what the counter is missing (negative: what it holds too much). */
  readonly difference: number;
  /** With --fix: whether the counter now holds the lake's value. */
  readonly fixed?: boolean;
}

export interface ReconcileResult {
  readonly from: string;
  readonly to: string;
  readonly engine: string;
  readonly objects: number;
  /** Bytes read from the lake (athena: bytes its query scanned). */
  readonly bytes: number;
  readonly events: number;
  readonly duplicates: number;
  readonly malformed: number;
  /** Lake events whose ts falls outside the period (they belong to a neighbouring one). */
  readonly outsidePeriod: number;
  /** Objects under raw/ whose key is not in Firehose's layout: reported, not read. */
  readonly foreignKeys: readonly string[];
  readonly compared: number;
  readonly drift: readonly DriftRow[];
  readonly totals: { readonly lake: number; readonly counters: number };
  /**
   * Usage that arrived after its hour was last reconciled in full: counted in the lake values
   * above, and listed apart for billing to carry forward.
   */
  readonly arrivedAfterReconcile: readonly LakeCell[];
  /** Hours this run marked reconciled (a full run, all tenants, that left no drift). */
  readonly hoursMarked: number;
  readonly elapsedMs: number;
}

export interface ReconcileDependencies {
  /** The engine that aggregates the lake: stream (lake-engine.ts) or athena (athena.ts). */
  readonly engine: LakeEngine;
  readonly engineName: string;
  readonly counters: Pick<UsageCounters, 'list' | 'set'>;
  readonly registry: MetricRegistry;
  /** Where full reconciles are remembered, to report the usage that arrives after one. */
  readonly marks?: Pick<ReconcileMarks, 'read' | 'record'>;
  /** Audits a repaired counter (reconcile --fix). */
  readonly audit?: (row: DriftRow) => Promise<void>;
  readonly now?: () => Date;
}

export const DEFAULT_LATE_ARRIVAL_HOURS = 24;

/**
 * Reconciles the usage counters against the raw lake, the billing system of record. The engine
 * aggregates the lake's distinct valid events per tenant, metric and hour; the counters of the
 * same period are read and compared cell by cell. With `fix`, each drifted counter is set to
 * the lake's value by a conditional write on the value just read, and audited.
 *
 * A full run (every tenant) that leaves no drift marks the period's ended hours reconciled; a
 * later run lists apart the usage that arrived after that, for billing to carry forward.
 */
export async function reconcile(
  deps: ReconcileDependencies,
  request: ReconcileRequest,
): Promise<ReconcileResult> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const start = request.from.getTime();
  const end = request.to.getTime();
  if (!(start < end)) throw usageError('INVALID_PERIOD', 'Invalid period: --from must be before --to.');
  const reconciledAt = deps.marks ? await deps.marks.read(request.from, request.to) : undefined;
  const lake = await deps.engine({
    from: request.from,
    to: request.to,
    lateArrivalHours: request.lateArrivalHours ?? DEFAULT_LATE_ARRIVAL_HOURS,
    metrics: deps.registry.list(),
    ...(request.tenantId ? { tenantId: request.tenantId } : {}),
    ...(reconciledAt ? { reconciledAt } : {}),
  });
  const cells = new Map(lake.cells.map((cell) => [rowId(cell.tenantId, cell.metric, cell.hour), cell]));

  const counters = await deps.counters.list({
    from: hourOf(request.from.toISOString()),
    to: hourOf(new Date(end - 1).toISOString()),
    ...(request.tenantId ? { tenantId: request.tenantId } : {}),
  });
  const counted = new Map(counters.map((c) => [rowId(c.tenantId, c.metric, c.hour), c]));
  const ids = new Set([...cells.keys(), ...counted.keys()]);
  const drift: DriftRow[] = [];
  let lakeTotal = 0;
  let counterTotal = 0;
  for (const id of [...ids].sort()) {
    const fromLake = cells.get(id);
    const counter = counted.get(id);
    const { tenantId, metric, hour } = (fromLake ?? counter)!;
    const row = { tenantId, metric, hour, lake: fromLake?.quantity ?? 0, counter: counter?.quantity ?? 0 };
    lakeTotal += row.lake;
    counterTotal += row.counter;
    if (Math.abs(row.lake - row.counter) <= 1e-9) continue;
    const difference = row.lake - row.counter;
    if (!request.fix) {
      drift.push({ ...row, difference });
      continue;
    }
    const fixed = await deps.counters.set(tenantId, metric, hour, row.lake, {
      expectedQuantity: row.counter,
      aggregation: deps.registry.require(metric).aggregation,
    });
    const repaired = { ...row, difference, fixed };
    if (fixed) await deps.audit?.(repaired);
    drift.push(repaired);
  }

  const settled = drift.every((row) => row.fixed);
  const hoursMarked =
    deps.marks && !request.tenantId && settled
      ? await deps.marks.record(request.from, request.to, startedAt)
      : 0;
  return {
    from: request.from.toISOString(),
    to: request.to.toISOString(),
    engine: deps.engineName,
    objects: lake.objects,
    bytes: lake.bytes,
    events: lake.events,
    duplicates: lake.duplicates,
    malformed: lake.malformed,
    outsidePeriod: lake.outsidePeriod,
    foreignKeys: lake.foreignKeys,
    compared: ids.size,
    drift,
    totals: { lake: lakeTotal, counters: counterTotal },
    arrivedAfterReconcile: lake.arrivedAfterReconcile ?? [],
    hoursMarked,
    elapsedMs: now().getTime() - startedAt.getTime(),
  };
}

function rowId(tenantId: string, metric: string, hour: HourKey): string {
  return `${tenantId}\u0000${metric}\u0000${hour}`;
}
