import { createHash } from 'node:crypto';

import type { S3Client } from '@aws-sdk/client-s3';

import { applyBatch, type BatchResult } from './aggregator.js';
import type { UsageCounters } from './counters.js';
import { validateEvent } from './events.js';
import { writeQuarantineObject } from './lake.js';
import type { MetricRegistry } from './metrics.js';
import { batchIdOf } from './pump.js';
import type { UsageEvent } from './types.js';

/** One Kinesis record as the aggregator Lambda receives it (event source mapping), decoded. */
export interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** The record's data: one usage event as the emitter writes it (JSON, no delimiter). */
  readonly data: Buffer;
  /** Kinesis's approximate arrival: the clock the event's skew is judged against. */
  readonly arrival: Date;
}

export interface StreamConsumerDependencies {
  readonly counters: Pick<UsageCounters, 'apply'>;
  readonly registry: MetricRegistry;
  /** The lake bucket, for the quarantine (Firehose writes the raw objects, not this). */
  readonly s3: S3Client;
  readonly bucket: string;
}

export interface ConsumedBatch extends BatchResult {
  readonly batchId: string;
  readonly records: number;
  readonly events: number;
  readonly malformed: number;
  readonly quarantineKey?: string;
}

/**
 * The aggregator Lambda on the usage stream (what the local pump does after its lake write):
 * validates each record, quarantines the malformed ones, and applies the valid ones to the
 * usage counters once per batch id. A batch is one shard's records from its first to its last
 * sequence number, so the event source mapping's retry of the same batch gets the same id and
 * counts nothing twice (batchIdOf, as the pump). Bisecting a failed batch would change the
 * ids: the mapping must not bisect (the infra app says so).
 */
export async function consumeUsageRecords(
  deps: StreamConsumerDependencies,
  records: readonly StreamRecord[],
): Promise<ConsumedBatch | undefined> {
  if (records.length === 0) return undefined;
  const shards = new Set(records.map((r) => r.shardId));
  if (shards.size !== 1) throw new Error(`A batch holds one shard's records; got ${[...shards].join(', ')}`);
  const batchId = batchIdOf(
    records[0].shardId,
    records[0].sequenceNumber,
    records[records.length - 1].sequenceNumber,
  );
  const events: UsageEvent[] = [];
  const malformed: { reason: string; record: string; batchId: string }[] = [];
  for (const record of records) {
    const text = record.data.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      malformed.push({ reason: 'not JSON', record: text, batchId });
      continue;
    }
    const result = validateEvent(value, deps.registry, record.arrival);
    if (result.ok) events.push(result.event);
    else malformed.push({ reason: result.reason, record: text, batchId });
  }
  let quarantineKey: string | undefined;
  if (malformed.length > 0) {
    // Keyed by the batch's first arrival, under a uuid derived from the batch: a retry overwrites it.
    ({ key: quarantineKey } = await writeQuarantineObject(deps.s3, deps.bucket, {
      arrival: records[0].arrival,
      lines: malformed,
      uuid: uuidOf(batchId),
    }));
  }
  const applied = await applyBatch(
    deps.counters,
    batchId,
    events,
    (metric) => deps.registry.require(metric).aggregation,
  );
  return {
    ...applied,
    batchId,
    records: records.length,
    events: events.length,
    malformed: malformed.length,
    ...(quarantineKey ? { quarantineKey } : {}),
  };
}

function uuidOf(batchId: string): string {
  const hex = createHash('sha256').update(`quarantine:${batchId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
