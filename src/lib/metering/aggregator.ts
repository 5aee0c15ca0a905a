import { assertBatchId, type ApplyOutcome, type CounterDelta, type UsageCounters } from './counters.js';
import { hourOf } from './events.js';
import type { Aggregation, UsageEvent } from './types.js';

/** Counter writes in flight at once for one batch: enough to hide latency, few enough not to throttle. */
export const APPLY_CONCURRENCY = 16;

export interface BatchResult {
  /** Counters this batch changed (or, for max, recorded itself on). */
  readonly applied: number;
  /** Counters that had already seen this batch: a redelivery, not an error. */
  readonly duplicates: number;
  /** Counters the batch touches: applied + duplicates. */
  readonly deltas: number;
}

/**
 * Coalesces a batch of (already validated) events into one delta per tenant, metric and UTC
 * hour of `ts`: quantities add up for sum metrics, the largest wins for max metrics. An
 * eventId seen twice in the batch counts once (Kinesis and client retries duplicate events;
 * duplicates across batches are the raw lake's to settle, by eventId, at reconcile).
 */
export function aggregateBatch(
  events: readonly UsageEvent[],
  aggregationOf: (metric: string) => Aggregation,
): CounterDelta[] {
  const seen = new Set<string>();
  const deltas = new Map<string, CounterDelta>();
  for (const event of events) {
    if (seen.has(event.eventId)) continue;
    seen.add(event.eventId);
    const hour = hourOf(event.ts);
    const key = JSON.stringify([event.tenantId, event.metric, hour]);
    const previous = deltas.get(key);
    const aggregation = previous?.aggregation ?? aggregationOf(event.metric);
    const quantity =
      previous === undefined
        ? event.quantity
        : aggregation === 'sum'
          ? previous.quantity + event.quantity
          : Math.max(previous.quantity, event.quantity);
    deltas.set(key, { tenantId: event.tenantId, metric: event.metric, hour, quantity, aggregation });
  }
  return [...deltas.values()];
}

/**
 * Applies a batch to the usage counters, each delta once per batch id: a batch redelivered
 * after a crash or a partial failure reports the counters it already reached as duplicates
 * and applies the rest. The first write error stops new writes and is thrown once those in
 * flight have settled, so the caller (the Kinesis-triggered Lambda, the local pipeline pump)
 * retries the whole batch under the same id.
 */
export async function applyBatch(
  counters: Pick<UsageCounters, 'apply'>,
  batchId: string,
  events: readonly UsageEvent[],
  aggregationOf: (metric: string) => Aggregation,
  concurrency: number = APPLY_CONCURRENCY,
): Promise<BatchResult> {
  assertBatchId(batchId);
  const deltas = aggregateBatch(events, aggregationOf);
  const outcomes = await mapBounded(deltas, concurrency, (delta) => counters.apply(delta, batchId));
  const applied = outcomes.filter((outcome) => outcome === 'applied').length;
  return { applied, duplicates: outcomes.length - applied, deltas: deltas.length };
}

async function mapBounded<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<ApplyOutcome>,
): Promise<ApplyOutcome[]> {
  const results: ApplyOutcome[] = new Array<ApplyOutcome>(items.length);
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
