import type { DynamoDBDocumentClient, UpdateCommandInput } from '@aws-sdk/lib-dynamodb';

import { conflict, isAwsError, usageError } from '../cli/errors.js';
import { queryAll } from '../platform/dynamo.js';
import { sdk } from '../platform/sdk.js';
import type { Aggregation, HourKey } from './types.js';

/**
 * Batch ids are stored on every counter item their batch touched, so they must stay short (see
 * UsageCounters). A digest of the source batch fits: e.g. base64url(sha256(shard, first and
 * last sequence number)) cut to 22 characters is 128 bits, where the raw Kinesis shard id plus
 * a 56-digit sequence number would not fit.
 */
export const MAX_BATCH_ID_LENGTH = 64;
const BATCH_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
const HOUR_KEY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}$/;

/** One coalesced change to one counter: what a batch adds (sum) or has seen at most (max). */
export interface CounterDelta {
  readonly tenantId: string;
  readonly metric: string;
  readonly hour: HourKey;
  readonly quantity: number;
  readonly aggregation: Aggregation;
}

export type ApplyOutcome = 'applied' | 'duplicate';

export interface UsageCounter {
  readonly tenantId: string;
  readonly metric: string;
  readonly hour: HourKey;
  readonly quantity: number;
  /** Absent only on a counter that reconcile --fix created without naming one. */
  readonly aggregation?: Aggregation;
  readonly updatedAt: string;
}

export interface CounterPeriod {
  /** First hour, inclusive. */
  readonly from: HourKey;
  /** Last hour, inclusive (a month is `2026-11-01T00` to `2026-11-30T23`). */
  readonly to: HourKey;
  /** One tenant (a Query on its partition); without it, every tenant (a Scan). */
  readonly tenantId?: string;
  /**
   * Only these metrics. With a tenant, each one is a Query on an exact sort-key range
   * (`<metric>#<from>` to `<metric>#<to>`) that reads nothing outside the period; without
   * metrics the tenant's whole partition is read and filtered on `hour`.
   */
  readonly metrics?: readonly string[];
  /** Items per page (DynamoDB Limit); pages are followed to the end either way. */
  readonly pageSize?: number;
}

export interface SetOptions {
  /**
   * The quantity the caller read and means to replace: the write applies only if the counter
   * still holds it. 0 or undefined also matches a counter that does not exist yet.
   */
  readonly expectedQuantity?: number;
  /** Recorded when given (a counter created by the fix would otherwise lack it). */
  readonly aggregation?: Aggregation;
}

// Every attribute goes through a name placeholder: `hour` is a DynamoDB reserved word, and
// one consistent spelling beats remembering which of the others are.
const NAMES = {
  '#tenantId': 'tenantId',
  '#metric': 'metric',
  '#hour': 'hour',
  '#quantity': 'quantity',
  '#aggregation': 'aggregation',
  '#batches': 'batches',
  '#updatedAt': 'updatedAt',
} as const;

const NOT_YET_APPLIED = 'attribute_not_exists(#batches) OR NOT contains(#batches, :batchId)';
const DESCRIBE =
  'SET #tenantId = :tenantId, #metric = :metric, #hour = :hour, #aggregation = :aggregation, #updatedAt = :updatedAt';
/** Rounds of the max protocol before giving up on a counter that keeps moving under us. */
const MAX_ROUNDS = 3;
/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_LIMIT = 100;
const MAX_BATCH_GET_ROUNDS = 8;

/**
 * Usage counters (DESIGN.md "Data model"): one item per tenant, metric and UTC hour,
 * `PK = TENANT#<id>`, `SK = <metric>#<YYYY-MM-DDTHH>`, with `quantity` and `batches`, the
 * string set of the source batches already applied to it. Applying a batch's delta is
 * idempotent: the write is conditional on the batch id not being in that set, and adds it.
 * That is what lets the Kinesis consumer retry a whole batch after a partial failure.
 *
 * Item size: `batches` grows by one id per batch that touched the counter, and an item is
 * capped at 400 KB. A counter covers one hour, so it only sees the batches processed during
 * that hour plus late arrivals: bounded by shards x invocations per shard per hour (a batching
 * window keeps the latter small). At the 64-character cap that is ~6,000 ids; a 22-character
 * digest allows ~15,000. Longer ids are refused rather than left to hit the limit later.
 */
export class UsageCounters {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Applies one delta on behalf of a batch, once. `duplicate` means this batch was already
   * applied to this counter (a redelivery): nothing changed, and that is not an error.
   */
  async apply(delta: CounterDelta, batchId: string): Promise<ApplyOutcome> {
    assertBatchId(batchId);
    assertHour(delta.hour);
    assertQuantity(delta.quantity, delta.metric);
    return delta.aggregation === 'sum' ? this.applySum(delta, batchId) : this.applyMax(delta, batchId);
  }

  async get(tenantId: string, metric: string, hour: HourKey): Promise<UsageCounter | undefined> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: counterKey(tenantId, metric, hour),
        ConsistentRead: true,
      }),
    );
    return Item ? toCounter(Item) : undefined;
  }

  /**
   * The counters at these exact keys that exist, 100 keys per BatchGetItem (its limit), keys
   * DynamoDB leaves unprocessed asked again. For a few hours of many tenants (an hourly push)
   * this is a fraction of the requests a Query per tenant and metric takes.
   */
  async getMany(
    keys: readonly { tenantId: string; metric: string; hour: HourKey }[],
    sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ): Promise<UsageCounter[]> {
    const { BatchGetCommand } = sdk.documents();
    const found: UsageCounter[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
      let pending: Record<string, unknown>[] = keys
        .slice(i, i + BATCH_GET_LIMIT)
        .map((k) => counterKey(k.tenantId, k.metric, k.hour));
      for (let round = 0; pending.length > 0; round++) {
        if (round >= MAX_BATCH_GET_ROUNDS) {
          throw conflict(
            'COUNTER_READ_THROTTLED',
            `DynamoDB kept ${pending.length} counter reads unprocessed.`,
            ['Run the command again.'],
          );
        }
        if (round > 0) await sleep(Math.min(2_000, 50 * 2 ** round));
        const { Responses, UnprocessedKeys } = await this.db.send(
          new BatchGetCommand({
            RequestItems: {
              [this.table]: {
                Keys: pending,
                ProjectionExpression: PROJECTION,
                ExpressionAttributeNames: projectionNames,
                ConsistentRead: true,
              },
            },
          }),
        );
        found.push(...(Responses?.[this.table] ?? []).map(toCounter));
        pending = (UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return found.sort(byKey);
  }

  /**
   * The counters of a period, sorted by tenant, metric and hour. Without a tenant this scans
   * the table (the operators' reconcile path, not a request path); with one it queries.
   */
  async list(period: CounterPeriod): Promise<UsageCounter[]> {
    assertHour(period.from);
    assertHour(period.to);
    const items =
      period.tenantId === undefined ? await this.scanPeriod(period) : await this.queryTenant(period);
    return items.map(toCounter).sort(byKey);
  }

  /**
   * Overwrites a counter's quantity (reconcile --fix), only if it still holds the quantity the
   * caller read; returns false when it did not (someone applied a batch meanwhile: read
   * again). The applied-batch set is kept, so redeliveries stay detected after a fix.
   */
  async set(
    tenantId: string,
    metric: string,
    hour: HourKey,
    quantity: number,
    options: SetOptions = {},
  ): Promise<boolean> {
    assertHour(hour);
    assertQuantity(quantity, metric);
    const expected = options.expectedQuantity ?? 0;
    const assignments = [
      '#tenantId = :tenantId',
      '#metric = :metric',
      '#hour = :hour',
      '#quantity = :quantity',
      '#updatedAt = :updatedAt',
      ...(options.aggregation ? ['#aggregation = :aggregation'] : []),
    ];
    return this.updateIf({
      TableName: this.table,
      Key: counterKey(tenantId, metric, hour),
      UpdateExpression: `SET ${assignments.join(', ')}`,
      ConditionExpression:
        expected === 0 ? 'attribute_not_exists(#quantity) OR #quantity = :expected' : '#quantity = :expected',
      ExpressionAttributeNames: {
        '#tenantId': NAMES['#tenantId'],
        '#metric': NAMES['#metric'],
        '#hour': NAMES['#hour'],
        '#quantity': NAMES['#quantity'],
        '#updatedAt': NAMES['#updatedAt'],
        ...(options.aggregation ? { '#aggregation': NAMES['#aggregation'] } : {}),
      },
      ExpressionAttributeValues: {
        ':tenantId': tenantId,
        ':metric': metric,
        ':hour': hour,
        ':quantity': quantity,
        ':updatedAt': this.now().toISOString(),
        ':expected': expected,
        ...(options.aggregation ? { ':aggregation': options.aggregation } : {}),
      },
    });
  }

  /** One write: ADD is commutative, so the batch condition is all there is to check. */
  private async applySum(delta: CounterDelta, batchId: string): Promise<ApplyOutcome> {
    const updated = await this.updateIf({
      ...this.baseUpdate(delta, batchId),
      UpdateExpression: `${DESCRIBE} ADD #quantity :quantity, #batches :batch`,
      ConditionExpression: NOT_YET_APPLIED,
    });
    return updated ? 'applied' : 'duplicate';
  }

  /**
   * DynamoDB has no max() in update expressions, and a condition covers the whole update, so
   * "raise quantity if greater, and record the batch either way" takes two conditional writes:
   *
   * 1. raise: `SET quantity = :quantity ... ADD batches :batch`, if the batch is new AND
   *    (quantity is missing OR quantity < :quantity).
   * 2. record: `SET updatedAt ... ADD batches :batch` (quantity untouched), if the batch is
   *    new AND quantity >= :quantity.
   *
   * If 1 fails, the batch was applied or the counter already holds at least this much; 2 then
   * records the batch in the second case. `quantity >= :quantity` in 2 is what makes it safe:
   * without it, a reconcile --fix lowering the counter between the two writes (or the item
   * being deleted) would let 2 record the batch without its value. If both fail, the batch is
   * a duplicate, or the counter moved below us between the writes: a consistent read tells
   * which, and the latter starts over. A redelivered max batch therefore costs two failed
   * writes and one read; a new one, one or two writes.
   */
  private async applyMax(delta: CounterDelta, batchId: string): Promise<ApplyOutcome> {
    const base = this.baseUpdate(delta, batchId);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const raised = await this.updateIf({
        ...base,
        UpdateExpression: `${DESCRIBE}, #quantity = :quantity ADD #batches :batch`,
        ConditionExpression: `(${NOT_YET_APPLIED}) AND (attribute_not_exists(#quantity) OR #quantity < :quantity)`,
      });
      if (raised) return 'applied';

      const recorded = await this.updateIf({
        ...base,
        UpdateExpression: 'SET #updatedAt = :updatedAt ADD #batches :batch',
        ConditionExpression: `(${NOT_YET_APPLIED}) AND #quantity >= :quantity`,
        ExpressionAttributeNames: pickNames('#updatedAt', '#batches', '#quantity'),
        ExpressionAttributeValues: {
          ':updatedAt': base.ExpressionAttributeValues[':updatedAt'],
          ':batch': base.ExpressionAttributeValues[':batch'],
          ':batchId': batchId,
          ':quantity': delta.quantity,
        },
      });
      if (recorded) return 'applied';

      if (await this.hasBatch(delta, batchId)) return 'duplicate';
    }
    throw conflict(
      'COUNTER_CONTENTION',
      `Counter ${delta.tenantId}/${delta.metric}/${delta.hour} kept changing while batch ${batchId} was applied to it.`,
      ['Retry the batch: counters already applied report it as a duplicate.'],
    );
  }

  private baseUpdate(delta: CounterDelta, batchId: string) {
    return {
      TableName: this.table,
      Key: counterKey(delta.tenantId, delta.metric, delta.hour),
      ExpressionAttributeNames: { ...NAMES },
      ExpressionAttributeValues: {
        ':tenantId': delta.tenantId,
        ':metric': delta.metric,
        ':hour': delta.hour,
        ':aggregation': delta.aggregation,
        ':updatedAt': this.now().toISOString(),
        ':quantity': delta.quantity,
        // The document client writes a JS Set of strings as a DynamoDB string set (SS).
        ':batch': new Set([batchId]),
        ':batchId': batchId,
      },
    };
  }

  /** False when the condition did not hold: nothing was written. */
  private async updateIf(input: UpdateCommandInput): Promise<boolean> {
    try {
      await this.db.send(new (sdk.documents().UpdateCommand)(input));
      return true;
    } catch (err) {
      if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
      throw err;
    }
  }

  private async hasBatch(delta: CounterDelta, batchId: string): Promise<boolean> {
    const { Item } = await this.db.send(
      new (sdk.documents().GetCommand)({
        TableName: this.table,
        Key: counterKey(delta.tenantId, delta.metric, delta.hour),
        ProjectionExpression: '#batches',
        ExpressionAttributeNames: { '#batches': NAMES['#batches'] },
        ConsistentRead: true,
      }),
    );
    const batches = Item?.batches;
    return batches instanceof Set && batches.has(batchId);
  }

  private async queryTenant(period: CounterPeriod): Promise<Record<string, unknown>[]> {
    const partition = `TENANT#${period.tenantId ?? ''}`;
    const common = {
      TableName: this.table,
      ProjectionExpression: PROJECTION,
      ConsistentRead: true,
      ...(period.pageSize === undefined ? {} : { Limit: period.pageSize }),
    };
    if (!period.metrics) {
      return queryAll(this.db, {
        ...common,
        KeyConditionExpression: 'PK = :pk',
        FilterExpression: '#hour BETWEEN :from AND :to',
        ExpressionAttributeNames: projectionNames,
        ExpressionAttributeValues: { ':pk': partition, ':from': period.from, ':to': period.to },
      });
    }
    const pages = await Promise.all(
      period.metrics.map((metric) =>
        queryAll(this.db, {
          ...common,
          KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
          ExpressionAttributeNames: projectionNames,
          ExpressionAttributeValues: {
            ':pk': partition,
            ':from': `${metric}#${period.from}`,
            ':to': `${metric}#${period.to}`,
          },
        }),
      ),
    );
    return pages.flat();
  }

  private async scanPeriod(period: CounterPeriod): Promise<Record<string, unknown>[]> {
    const lib = sdk.documents();
    const metrics = period.metrics ?? [];
    const metricValues = Object.fromEntries(metrics.map((metric, i) => [`:metric${i}`, metric]));
    const filters = [
      'begins_with(PK, :tenantPrefix)',
      '#hour BETWEEN :from AND :to',
      ...(metrics.length > 0 ? [`#metric IN (${Object.keys(metricValues).join(', ')})`] : []),
    ];
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new lib.ScanCommand({
          TableName: this.table,
          FilterExpression: filters.join(' AND '),
          ProjectionExpression: PROJECTION,
          ExpressionAttributeNames: projectionNames,
          ExpressionAttributeValues: {
            ':tenantPrefix': 'TENANT#',
            ':from': period.from,
            ':to': period.to,
            ...metricValues,
          },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
          ...(period.pageSize === undefined ? {} : { Limit: period.pageSize }),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}

/** Refuses a batch id that would bloat every counter item it is recorded on. */
export function assertBatchId(batchId: string): void {
  if (batchId.length === 0 || batchId.length > MAX_BATCH_ID_LENGTH || !BATCH_ID_PATTERN.test(batchId)) {
    const got =
      batchId.length > MAX_BATCH_ID_LENGTH ? `${batchId.length} characters` : JSON.stringify(batchId);
    throw usageError(
      'INVALID_BATCH_ID',
      `Invalid batch id (${got}): must be 1-${MAX_BATCH_ID_LENGTH} characters from A-Z a-z 0-9 . _ : -.`,
      [
        'Use a short digest of the source batch, e.g. base64url(sha256(shard and sequence numbers)) cut to 22 characters.',
      ],
    );
  }
}

function assertHour(hour: HourKey): void {
  if (!HOUR_KEY_PATTERN.test(hour)) {
    throw usageError(
      'INVALID_HOUR',
      `Invalid hour ${JSON.stringify(hour)}: expected YYYY-MM-DDTHH in UTC, e.g. 2026-11-27T10.`,
    );
  }
}

function assertQuantity(quantity: number, metric: string): void {
  if (!Number.isFinite(quantity) || quantity < 0) {
    throw usageError(
      'INVALID_QUANTITY',
      `Invalid quantity ${quantity} for ${metric}: must be a finite number >= 0.`,
    );
  }
}

function counterKey(tenantId: string, metric: string, hour: HourKey): { PK: string; SK: string } {
  return { PK: `TENANT#${tenantId}`, SK: `${metric}#${hour}` };
}

// Listings leave the batch-id set behind: it is the bulk of a busy item and no reader needs it.
const PROJECTION = '#tenantId, #metric, #hour, #quantity, #aggregation, #updatedAt';
const projectionNames = pickNames('#tenantId', '#metric', '#hour', '#quantity', '#aggregation', '#updatedAt');

function pickNames(...names: (keyof typeof NAMES)[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, NAMES[name]]));
}

function toCounter(item: Record<string, unknown>): UsageCounter {
  return {
    tenantId: item.tenantId as string,
    metric: item.metric as string,
    hour: item.hour as HourKey,
    quantity: item.quantity as number,
    ...(item.aggregation === undefined ? {} : { aggregation: item.aggregation as Aggregation }),
    updatedAt: item.updatedAt as string,
  };
}

function byKey(a: UsageCounter, b: UsageCounter): number {
  return compare(a.tenantId, b.tenantId) || compare(a.metric, b.metric) || compare(a.hour, b.hour);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
