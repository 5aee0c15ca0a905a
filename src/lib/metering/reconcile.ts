import type { S3Client } from '@aws-sdk/client-s3';

import { usageError } from '../cli/errors.js';
import type { UsageCounters } from './counters.js';
import { hourOf, validateEvent } from './events.js';
import { listLakeKeys, readLakeObject } from './lake.js';
import { parseLakeObjectKey, partitionsForPeriod } from './lake-layout.js';
import { combine, type MetricRegistry } from './metrics.js';
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
  readonly objects: number;
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
}

export interface ReconcileDependencies {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly counters: Pick<UsageCounters, 'list' | 'set'>;
  readonly registry: MetricRegistry;
  /** Audits a repaired counter (reconcile --fix). */
  readonly audit?: (row: DriftRow) => Promise<void>;
  readonly onObject?: (progress: { objects: number; events: number }) => void;
}

export const DEFAULT_LATE_ARRIVAL_HOURS = 24;

/**
 * Reconciles the usage counters against the raw lake, the billing system of record: reads the
 * period's partitions (plus the late-arrival window) object by object and line by line, keeps
 * the events whose ts is in the period, dedups them by eventId, aggregates per tenant, metric
 * and hour with each metric's aggregation, and compares with the counters. With `fix`, each
 * drifted counter is set to the lake's value by a conditional write on the value just read.
 *
 * This is the streaming engine on one core; parallel downloads, both cores and memory that
 * does not grow with the period (the eventId set) are the next steps of the metering issue.
 */
export async function reconcile(
  deps: ReconcileDependencies,
  request: ReconcileRequest,
): Promise<ReconcileResult> {
  const start = request.from.getTime();
  const end = request.to.getTime();
  if (!(start < end)) throw usageError('INVALID_PERIOD', 'Invalid period: --from must be before --to.');
  const prefixes = partitionsForPeriod(
    request.from,
    request.to,
    request.lateArrivalHours ?? DEFAULT_LATE_ARRIVAL_HOURS,
  );
  const seen = new Set<string>();
  const lake = new Map<string, { tenantId: string; metric: string; hour: HourKey; quantity: number }>();
  const stats = { objects: 0, events: 0, duplicates: 0, malformed: 0, outsidePeriod: 0 };
  const foreignKeys: string[] = [];
  for await (const key of listLakeKeys(deps.s3, deps.bucket, prefixes)) {
    const parsed = parseLakeObjectKey(key);
    if (!parsed) {
      foreignKeys.push(key);
      continue;
    }
    stats.objects++;
    // Validated as the aggregator validated it, against the time the object arrived (the key
    // keeps that time to the second).
    const arrival = new Date(parsed.arrival.getTime() + 1000);
    for await (const line of readLakeObject(deps.s3, deps.bucket, key)) {
      const result = 'value' in line ? validateEvent(line.value, deps.registry, arrival) : undefined;
      if (!result?.ok) {
        stats.malformed++;
        continue;
      }
      const event = result.event;
      const ts = Date.parse(event.ts);
      if (ts < start || ts >= end) {
        stats.outsidePeriod++;
        continue;
      }
      if (request.tenantId && event.tenantId !== request.tenantId) continue;
      if (seen.has(event.eventId)) {
        stats.duplicates++;
        continue;
      }
      seen.add(event.eventId);
      stats.events++;
      const hour = hourOf(event.ts);
      const id = rowId(event.tenantId, event.metric, hour);
      const current = lake.get(id);
      const aggregation = deps.registry.require(event.metric).aggregation;
      lake.set(id, {
        tenantId: event.tenantId,
        metric: event.metric,
        hour,
        quantity: current ? combine(aggregation, current.quantity, event.quantity) : event.quantity,
      });
    }
    deps.onObject?.({ objects: stats.objects, events: stats.events });
  }

  const counters = await deps.counters.list({
    from: hourOf(request.from.toISOString()),
    to: hourOf(new Date(end - 1).toISOString()),
    ...(request.tenantId ? { tenantId: request.tenantId } : {}),
  });
  const counted = new Map(counters.map((c) => [rowId(c.tenantId, c.metric, c.hour), c]));
  const ids = new Set([...lake.keys(), ...counted.keys()]);
  const drift: DriftRow[] = [];
  let lakeTotal = 0;
  let counterTotal = 0;
  for (const id of [...ids].sort()) {
    const fromLake = lake.get(id);
    const counter = counted.get(id);
    const row = {
      tenantId: (fromLake ?? counter)!.tenantId,
      metric: (fromLake ?? counter)!.metric,
      hour: (fromLake ?? counter)!.hour,
      lake: fromLake?.quantity ?? 0,
      counter: counter?.quantity ?? 0,
    };
    lakeTotal += row.lake;
    counterTotal += row.counter;
    if (Math.abs(row.lake - row.counter) <= 1e-9) continue;
    const difference = row.lake - row.counter;
    if (!request.fix) {
      drift.push({ ...row, difference });
      continue;
    }
    const fixed = await deps.counters.set(row.tenantId, row.metric, row.hour, row.lake, {
      expectedQuantity: row.counter,
      aggregation: deps.registry.require(row.metric).aggregation,
    });
    const repaired = { ...row, difference, fixed };
    if (fixed) await deps.audit?.(repaired);
    drift.push(repaired);
  }
  return {
    from: request.from.toISOString(),
    to: request.to.toISOString(),
    ...stats,
    foreignKeys,
    compared: ids.size,
    drift,
    totals: { lake: lakeTotal, counters: counterTotal },
  };
}

function rowId(tenantId: string, metric: string, hour: HourKey): string {
  return `${tenantId}\u0000${metric}\u0000${hour}`;
}
