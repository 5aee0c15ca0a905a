/**
 * A usage event, as application code emits it and as the raw lake stores it (one JSON object
 * per line). `ts` is when the usage happened (ISO 8601, UTC), which decides its hour; when it
 * arrived decides only where Firehose wrote it.
 */
export interface UsageEvent {
  /** Unique per event: duplicates (client retries, Firehose redelivery) are dropped by it. */
  readonly eventId: string;
  readonly tenantId: string;
  readonly metric: string;
  readonly quantity: number;
  readonly ts: string;
}

/** How a metric's events combine within an hour. */
export type Aggregation = 'sum' | 'max';

export interface MetricDefinition {
  readonly name: string;
  readonly unit: string;
  /** sum for counters (api.call); max per hour for sampled stock metrics (storage.gb). */
  readonly aggregation: Aggregation;
  readonly description: string;
}

/** `YYYY-MM-DDTHH`, UTC: the hour a usage counter covers. */
export type HourKey = string;
