import type { HourKey, MetricDefinition } from './types.js';

/**
 * What an engine makes of the raw lake for a period: one cell per tenant, metric and hour of the
 * events' ts, after dropping malformed events and duplicate eventIds. Both engines (`stream`,
 * which reads the objects itself, and `athena`, which runs the same aggregation as SQL) produce
 * this, and reconcile compares it with the counters the same way whichever made it.
 */
export interface LakeCell {
  readonly tenantId: string;
  readonly metric: string;
  readonly hour: HourKey;
  /** The metric's aggregation of the hour's distinct events: sum, or max for sampled metrics. */
  readonly quantity: number;
  /** Distinct events in the cell. */
  readonly events: number;
}

export interface LakeAggregation {
  readonly cells: readonly LakeCell[];
  /** Lake objects read (for athena: the objects the query scanned are not known, so 0). */
  readonly objects: number;
  /** Compressed bytes read (for athena: bytes the query scanned). */
  readonly bytes: number;
  /** Distinct valid events in the period counted into the cells. */
  readonly events: number;
  /** Copies dropped because an event with the same eventId was already counted. */
  readonly duplicates: number;
  /** Lines that are not valid usage events (bad JSON, unknown metric, ...). */
  readonly malformed: number;
  /** Valid events whose ts falls outside the period (they belong to a neighbouring one). */
  readonly outsidePeriod: number;
  /** Objects under raw/ whose key is not in Firehose's layout: reported, not read. */
  readonly foreignKeys: readonly string[];
  /**
   * The part of the cells that arrived after their hour was last reconciled in full (see
   * `reconciledAt`): usage billing has settled, to carry forward. Only the stream engine, which
   * knows each object's arrival, reports it.
   */
  readonly arrivedAfterReconcile?: readonly LakeCell[];
}

export interface LakeAggregationRequest {
  /** The period of the events' ts: [from, to). */
  readonly from: Date;
  readonly to: Date;
  /** Only this tenant's events. */
  readonly tenantId?: string;
  /** How late after its hour an event can still arrive (Firehose partitions by arrival). */
  readonly lateArrivalHours: number;
  /** Metrics beyond the defaults (tier-configurable ones). */
  readonly metrics?: readonly MetricDefinition[];
  /** When each hour (by its start, epoch ms) was last reconciled in full, epoch ms. */
  readonly reconciledAt?: ReadonlyMap<number, number>;
}

export interface LakeProgress {
  /** Objects listed so far, and whether the listing has finished (the total is then known). */
  readonly listed: number;
  readonly listingDone: boolean;
  readonly objects: number;
  readonly bytes: number;
  readonly events: number;
}

/** An engine: the stream engine (lake-engine.ts) or the athena engine (athena.ts). */
export type LakeEngine = (request: LakeAggregationRequest) => Promise<LakeAggregation>;
