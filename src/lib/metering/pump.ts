import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { _Record, KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';

import { sdk } from '../platform/sdk.js';
import { applyBatch } from './aggregator.js';
import type { UsageCounters } from './counters.js';
import { validateEvent } from './events.js';
import { writeLakeObject, writeQuarantineObject } from './lake.js';
import type { MetricRegistry } from './metrics.js';
import type { UsageEvent } from './types.js';

/**
 * The local pipeline pump: what Firehose and the aggregator Lambda do on aws. One pass reads
 * each shard of the usage stream from its checkpoint, and for every batch of records writes
 * the records to the raw lake (Firehose: the lake keeps every record, as sent), applies the
 * valid events to the counters (the Lambda: idempotent per batch id), quarantines the
 * malformed ones, then moves the checkpoint.
 *
 * Crash safety: a batch is written ahead (its sequence range, id and arrival time) before
 * anything is done with it. A pass that finds a pending batch re-reads exactly that range and
 * redoes it: the lake object gets the same key (overwritten, not duplicated) and the counters
 * recognise the batch id, so nothing is lost or counted twice.
 */
export interface PumpState {
  readonly shards: Record<string, ShardState>;
}

interface ShardState {
  /** The last sequence number whose batch is fully done. */
  readonly checkpoint?: string;
  readonly pending?: PendingBatch;
}

interface PendingBatch {
  readonly from: string;
  readonly to: string;
  readonly batchId: string;
  readonly arrival: string;
}

export interface PumpStateStore {
  load(): Promise<PumpState>;
  save(state: PumpState): Promise<void>;
}

/** The pump's state in the local stack's home (the pump runs only there). */
export function fileStateStore(file: string): PumpStateStore {
  return {
    async load() {
      try {
        return JSON.parse(await readFile(file, 'utf8')) as PumpState;
      } catch {
        return { shards: {} };
      }
    },
    async save(state) {
      await mkdir(path.dirname(file), { recursive: true });
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(state, null, 2));
      await rename(temporary, file);
    },
  };
}

export interface PumpDependencies {
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  readonly counters: Pick<UsageCounters, 'apply'>;
  readonly registry: MetricRegistry;
  readonly stream: string;
  readonly bucket: string;
  readonly store: PumpStateStore;
  readonly now?: () => Date;
  /** Records per batch (GetRecords limit). */
  readonly batchSize?: number;
}

export interface PumpResult {
  readonly batches: number;
  readonly records: number;
  readonly events: number;
  readonly malformed: number;
  readonly lakeObjects: number;
  readonly countersApplied: number;
  readonly duplicateBatches: number;
}

export async function pumpOnce(deps: PumpDependencies): Promise<PumpResult> {
  const kinesisSdk = sdk.kinesis();
  const totals = {
    batches: 0,
    records: 0,
    events: 0,
    malformed: 0,
    lakeObjects: 0,
    countersApplied: 0,
    duplicateBatches: 0,
  };
  let state = await deps.store.load();
  const { StreamDescription } = await deps.kinesis.send(
    new kinesisSdk.DescribeStreamCommand({ StreamName: deps.stream }),
  );
  for (const shard of StreamDescription?.Shards ?? []) {
    const shardId = String(shard.ShardId);
    const saveShard = async (next: ShardState): Promise<void> => {
      state = { shards: { ...state.shards, [shardId]: next } };
      await deps.store.save(state);
    };
    const pending = state.shards[shardId]?.pending;
    if (pending) {
      const records = await readRange(deps.kinesis, deps.stream, shardId, pending.from, pending.to);
      add(totals, await processBatch(deps, records, pending));
      await saveShard({ checkpoint: pending.to });
    }
    for (;;) {
      const checkpoint = state.shards[shardId]?.checkpoint;
      const { ShardIterator } = await deps.kinesis.send(
        new kinesisSdk.GetShardIteratorCommand({
          StreamName: deps.stream,
          ShardId: shardId,
          ...(checkpoint
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: checkpoint }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
        }),
      );
      const { Records } = await deps.kinesis.send(
        new kinesisSdk.GetRecordsCommand({ ShardIterator, Limit: deps.batchSize ?? 1000 }),
      );
      if (!Records || Records.length === 0) break;
      const from = String(Records[0].SequenceNumber);
      const to = String(Records[Records.length - 1].SequenceNumber);
      const batch: PendingBatch = {
        from,
        to,
        batchId: batchIdOf(shardId, from, to),
        arrival: (deps.now?.() ?? new Date()).toISOString(),
      };
      await saveShard({ ...(checkpoint ? { checkpoint } : {}), pending: batch });
      add(totals, await processBatch(deps, Records, batch));
      await saveShard({ checkpoint: to });
    }
  }
  return totals;
}

async function processBatch(
  deps: PumpDependencies,
  records: readonly _Record[],
  batch: PendingBatch,
): Promise<PumpResult> {
  const lines: unknown[] = [];
  const events: UsageEvent[] = [];
  const malformed: { reason: string; record: string }[] = [];
  const arrival = new Date(batch.arrival);
  for (const record of records) {
    const text = Buffer.from(record.Data ?? []).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      malformed.push({ reason: 'not JSON', record: text });
      lines.push(text);
      continue;
    }
    lines.push(value);
    // Events more than a few minutes ahead of their arrival are refused like any client's.
    const result = validateEvent(value, deps.registry, arrival);
    if (result.ok) events.push(result.event);
    else malformed.push({ reason: result.reason, record: text });
  }
  // Deterministic object names: redoing a batch overwrites its objects instead of adding copies.
  await writeLakeObject(deps.s3, deps.bucket, {
    stream: deps.stream,
    arrival,
    lines,
    uuid: uuidOf(batch.batchId, 'lake'),
  });
  if (malformed.length > 0) {
    await writeQuarantineObject(deps.s3, deps.bucket, {
      arrival,
      lines: malformed.map((m) => ({ ...m, batchId: batch.batchId })),
      uuid: uuidOf(batch.batchId, 'quarantine'),
    });
  }
  const applied = await applyBatch(
    deps.counters,
    batch.batchId,
    events,
    (metric) => deps.registry.require(metric).aggregation,
  );
  return {
    batches: 1,
    records: records.length,
    events: events.length,
    malformed: malformed.length,
    lakeObjects: 1,
    countersApplied: applied.applied,
    duplicateBatches: applied.applied === 0 && applied.duplicates > 0 ? 1 : 0,
  };
}

/** Exactly the records from `from` to `to` (inclusive) of a shard, for redoing a pending batch. */
async function readRange(
  kinesis: KinesisClient,
  stream: string,
  shardId: string,
  from: string,
  to: string,
): Promise<_Record[]> {
  const kinesisSdk = sdk.kinesis();
  let { ShardIterator } = await kinesis.send(
    new kinesisSdk.GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: from,
    }),
  );
  const records: _Record[] = [];
  const last = BigInt(to);
  while (ShardIterator) {
    const page = await kinesis.send(new kinesisSdk.GetRecordsCommand({ ShardIterator, Limit: 1000 }));
    for (const record of page.Records ?? []) {
      if (BigInt(String(record.SequenceNumber)) > last) return records;
      records.push(record);
      if (BigInt(String(record.SequenceNumber)) === last) return records;
    }
    if ((page.Records ?? []).length === 0) return records;
    ShardIterator = page.NextShardIterator;
  }
  return records;
}

/** Short and stable: the counters keep every batch id they have seen on the counter item. */
export function batchIdOf(shardId: string, from: string, to: string): string {
  return `b-${createHash('sha256').update(`${shardId}:${from}:${to}`).digest('base64url').slice(0, 22)}`;
}

function uuidOf(batchId: string, purpose: string): string {
  const hex = createHash('sha256').update(`${purpose}:${batchId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function add(totals: { -readonly [K in keyof PumpResult]: number }, result: PumpResult): void {
  for (const key of Object.keys(totals) as (keyof PumpResult)[]) totals[key] += result[key];
}
