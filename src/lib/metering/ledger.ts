import { hostname } from 'node:os';

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { conflict, isAwsError } from '../cli/errors.js';
import { queryAll } from '../platform/dynamo.js';
import { sdk } from '../platform/sdk.js';
import type { CustomerRef } from './marketplace.js';
import type { HourKey } from './types.js';

/**
 * The Marketplace ledger (DESIGN.md "Data model"): one item per (tenant, dimension, hour) usage
 * record, written before and after each BatchMeterUsage call, so a crash at any point neither
 * bills twice nor loses a unit.
 *
 *   PENDING   planned: in the ledger, never sent. Sent as it is by the next push.
 *   SENT      written just before the call: AWS may or may not have it. Sent again, identical
 *             (AWS answers an identical record with Success, billing it once).
 *   ACCEPTED  AWS honoured it (Success).
 *   DUPLICATE AWS holds another quantity for the same customer, dimension and hour (not billed
 *             by this record; no one but another writer can cause it).
 *   REJECTED  AWS refused it (CustomerNotSubscribed, an invalid record): its units are owed
 *             again, and the next push carries them to a later hour.
 *
 * Keys, in the ledger table (PK/SK, as the local bootstrap and infra create it):
 *   PK=TENANT#<id>  SK=RECORD#<YYYY-MM-DDTHH>#<dimension>   a record
 *   PK=PUSH         SK=LOCK                                  the push lease (one push at a time)
 *   PK=PUSH         SK=CURSOR                                when the last push completed
 */

export const RECORD_STATES = ['PENDING', 'SENT', 'ACCEPTED', 'DUPLICATE', 'REJECTED'] as const;
export type RecordState = (typeof RECORD_STATES)[number];

export interface LedgerRecord {
  readonly tenantId: string;
  readonly dimension: string;
  /** The hour the record is for: its Timestamp is this hour's start. */
  readonly hour: HourKey;
  readonly timestamp: string;
  readonly quantity: number;
  readonly customer: CustomerRef;
  /**
   * The units it bills per counter, `<metric>#<hour>`: its own hour's, and any carried in (a
   * counter that grew after its hour was pushed, or usage older than the 6-hour window).
   */
  readonly covers: Readonly<Record<string, number>>;
  readonly state: RecordState;
  readonly reason?: string;
  readonly meteringRecordId?: string;
  /** The push that planned it. */
  readonly runId: string;
  /** Calls that carried it (a resend after a crash counts). */
  readonly attempts: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface LedgerQuery {
  /** First hour, inclusive. */
  readonly from: HourKey;
  /** Last hour, inclusive. */
  readonly to: HourKey;
  readonly tenantId?: string;
}

export interface PushLease {
  readonly runId: string;
  readonly host: string;
  readonly pid: number;
  readonly expiresAt: number;
}

/** How long a lease lasts without renewal: a push renews it every minute while it runs. */
export const LEASE_MS = 10 * 60_000;
const RECORD_PREFIX = 'RECORD#';
const PUSH_PARTITION = 'PUSH';
const BATCH_WRITE_LIMIT = 25;
const BATCH_WRITE_CONCURRENCY = 4;
const MAX_BATCH_WRITE_ROUNDS = 8;

export function recordKey(tenantId: string, hour: HourKey, dimension: string): { PK: string; SK: string } {
  return { PK: `TENANT#${tenantId}`, SK: `${RECORD_PREFIX}${hour}#${dimension}` };
}

export class MarketplaceLedger {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Records whose hour is in [from, to]: a Query for one tenant, a Scan for all. */
  async list(query: LedgerQuery): Promise<LedgerRecord[]> {
    const items =
      query.tenantId === undefined
        ? await this.scan(query)
        : await queryAll(this.db, {
            TableName: this.table,
            KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
            ExpressionAttributeValues: {
              ':pk': `TENANT#${query.tenantId}`,
              ':from': `${RECORD_PREFIX}${query.from}`,
              // '$' sorts after '#': every dimension of the last hour is in.
              ':to': `${RECORD_PREFIX}${query.to}$`,
            },
            ConsistentRead: true,
          });
    return items.map(toRecord).sort(byHour);
  }

  /**
   * Writes records as they are (whole items, 25 per BatchWriteItem): a push holds the lease, so
   * no one else writes them meanwhile. Unprocessed items are written again with backoff.
   */
  async put(records: readonly LedgerRecord[]): Promise<void> {
    await this.batchWrite(
      records.map((record) => ({
        PutRequest: {
          Item: {
            ...recordKey(record.tenantId, record.hour, record.dimension),
            entity: 'marketplace-record',
            ...record,
          },
        },
      })),
    );
  }

  /** Removes records (PENDING ones that fell out of the 6-hour window unsent: their units are planned again). */
  async remove(records: readonly LedgerRecord[]): Promise<void> {
    await this.batchWrite(
      records.map((record) => ({
        DeleteRequest: { Key: recordKey(record.tenantId, record.hour, record.dimension) },
      })),
    );
  }

  /**
   * Takes the push lease, so that two pushes never plan the same units. A lease that expired,
   * or whose holder was on this host and is dead (a crash), is taken over; a live one is a
   * conflict (exit 4).
   */
  async acquire(runId: string, now: number, isAlive: (pid: number) => boolean): Promise<PushLease> {
    const lease: PushLease = { runId, host: hostname(), pid: process.pid, expiresAt: now + LEASE_MS };
    const put = (condition: string, values: Record<string, unknown>) =>
      this.db.send(
        new (sdk.documents().PutCommand)({
          TableName: this.table,
          Item: { PK: PUSH_PARTITION, SK: 'LOCK', entity: 'push-lease', ...lease },
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        }),
      );
    try {
      await put('attribute_not_exists(PK) OR expiresAt < :now', { ':now': now });
      return lease;
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
    }
    const holder = await this.lease();
    if (holder && holder.host === lease.host && holder.pid !== process.pid && !isAlive(holder.pid)) {
      try {
        await put('runId = :holder', { ':holder': holder.runId });
        return lease;
      } catch (err) {
        if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
      }
    }
    throw conflict(
      'PUSH_IN_PROGRESS',
      `Another metering push holds the ledger${holder ? ` (run ${holder.runId}, pid ${holder.pid} on ${holder.host}, until ${new Date(holder.expiresAt).toISOString()})` : ''}.`,
      [
        'Wait for it to finish; a crashed push on another host releases the ledger when its lease expires (10 minutes).',
      ],
    );
  }

  /** Extends the lease; false when it was lost (another push took it over). */
  async renew(lease: PushLease, now: number): Promise<boolean> {
    try {
      await this.db.send(
        new (sdk.documents().UpdateCommand)({
          TableName: this.table,
          Key: { PK: PUSH_PARTITION, SK: 'LOCK' },
          UpdateExpression: 'SET expiresAt = :expiresAt',
          ConditionExpression: 'runId = :runId',
          ExpressionAttributeValues: { ':expiresAt': now + LEASE_MS, ':runId': lease.runId },
        }),
      );
      return true;
    } catch (err) {
      if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
      throw err;
    }
  }

  async release(lease: PushLease): Promise<void> {
    try {
      await this.db.send(
        new (sdk.documents().DeleteCommand)({
          TableName: this.table,
          Key: { PK: PUSH_PARTITION, SK: 'LOCK' },
          ConditionExpression: 'runId = :runId',
          ExpressionAttributeValues: { ':runId': lease.runId },
        }),
      );
    } catch (err) {
      if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
    }
  }

  async lease(): Promise<PushLease | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: { PK: PUSH_PARTITION, SK: 'LOCK' },
        ConsistentRead: true,
      }),
    );
    return Item
      ? {
          runId: String(Item.runId),
          host: String(Item.host),
          pid: Number(Item.pid),
          expiresAt: Number(Item.expiresAt),
        }
      : undefined;
  }

  /** When the last push completed (its start), if one did. */
  async lastCompleted(): Promise<Date | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: { PK: PUSH_PARTITION, SK: 'CURSOR' },
        ConsistentRead: true,
      }),
    );
    return typeof Item?.completedRunAt === 'string' ? new Date(Item.completedRunAt) : undefined;
  }

  async recordCompleted(runId: string, startedAt: Date): Promise<void> {
    await this.db.send(
      new (sdk.documents().PutCommand)({
        TableName: this.table,
        Item: {
          PK: PUSH_PARTITION,
          SK: 'CURSOR',
          entity: 'push-cursor',
          runId,
          completedRunAt: startedAt.toISOString(),
        },
      }),
    );
  }

  private async scan(query: LedgerQuery): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new (sdk.documents().ScanCommand)({
          TableName: this.table,
          FilterExpression: '#entity = :entity AND #hour BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#entity': 'entity', '#hour': 'hour' },
          ExpressionAttributeValues: {
            ':entity': 'marketplace-record',
            ':from': query.from,
            ':to': query.to,
          },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /** 25 requests per BatchWriteItem, a few calls at once. */
  private async batchWrite(requests: readonly Record<string, unknown>[]): Promise<void> {
    const chunks: Record<string, unknown>[][] = [];
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      chunks.push(requests.slice(i, i + BATCH_WRITE_LIMIT));
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) await this.writeChunk(chunks[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_WRITE_CONCURRENCY, chunks.length) }, worker));
  }

  private async writeChunk(chunk: Record<string, unknown>[]): Promise<void> {
    let pending = chunk;
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_BATCH_WRITE_ROUNDS) {
        throw conflict(
          'LEDGER_WRITE_THROTTLED',
          `DynamoDB kept ${pending.length} ledger writes unprocessed after ${MAX_BATCH_WRITE_ROUNDS} rounds.`,
          ['Run the push again: records already written are picked up where they stand.'],
        );
      }
      if (round > 0) await this.sleep(Math.min(2_000, 50 * 2 ** round));
      const { UnprocessedItems } = await this.db.send(
        new (sdk.documents().BatchWriteCommand)({ RequestItems: { [this.table]: pending } }),
      );
      pending = (UnprocessedItems?.[this.table] ?? []) as Record<string, unknown>[];
    }
  }
}

const RECORD_FIELDS = [
  'tenantId',
  'dimension',
  'hour',
  'timestamp',
  'quantity',
  'customer',
  'covers',
  'state',
  'reason',
  'meteringRecordId',
  'runId',
  'attempts',
  'createdAt',
  'updatedAt',
] as const;

function toRecord(item: Record<string, unknown>): LedgerRecord {
  const record: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) if (item[field] !== undefined) record[field] = item[field];
  return record as unknown as LedgerRecord;
}

function byHour(a: LedgerRecord, b: LedgerRecord): number {
  return compare(a.hour, b.hour) || compare(a.tenantId, b.tenantId) || compare(a.dimension, b.dimension);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
