import type {
  DynamoDBClient,
  KeysAndAttributes,
  ScanCommandInput,
  WriteRequest,
} from '@aws-sdk/client-dynamodb';

import { sdk } from '../platform/sdk.js';
import {
  BATCH_GET_LIMIT,
  BATCH_WRITE_LIMIT,
  chunk,
  Limiter,
  untilProcessed,
  type RetryOptions,
} from './batch.js';
import { itemKey, itemSize, keyAttributes, keyId, type Item, type ItemKey } from './migration-digest.js';
import type { SegmentCursor } from './migration-state.js';
import { keys } from './keys.js';

/** A table on one side of a migration, with the client of its region and account. */
export interface TableRef {
  readonly client: DynamoDBClient;
  readonly table: string;
}

/**
 * The tenant's items: partition key exactly `TENANT#<id>` or starting `TENANT#<id>#` (never the
 * bare prefix, which would match `TENANT#<id>2`). Sharded partitions cannot be listed by key,
 * so tables are scanned; the filter applies to the silo side too, so that nothing that is not
 * the tenant's ever moves into the pool.
 */
export function tenantScanInput(
  table: string,
  tenantId: string,
  segment: number,
  totalSegments: number,
  startKey?: Item,
): ScanCommandInput {
  const partition = keys.tenantPartition(tenantId);
  return {
    TableName: table,
    FilterExpression: 'PK = :pk OR begins_with(PK, :shard)',
    ExpressionAttributeValues: { ':pk': { S: partition }, ':shard': { S: `${partition}#` } },
    ConsistentRead: true,
    ...(totalSegments > 1 ? { Segment: segment, TotalSegments: totalSegments } : {}),
    ...(startKey ? { ExclusiveStartKey: startKey } : {}),
  };
}

export type PageHandler = (segment: number, items: Item[], next: Item | undefined) => Promise<void>;

/**
 * A parallel scan of the tenant's items: one worker per segment, each following its own
 * LastEvaluatedKey (a segment's key is only valid for that segment) from its cursor, and
 * calling `onPage` for every page, an empty one included, before asking for the next.
 */
export async function parallelScan(
  ref: TableRef,
  tenantId: string,
  cursors: readonly SegmentCursor[],
  onPage: PageHandler,
): Promise<void> {
  const { ScanCommand } = sdk.dynamodb();
  await Promise.all(
    cursors.map(async (cursor, segment) => {
      if (cursor.done) return;
      const fetch = (startKey?: Item) =>
        ref.client.send(
          new ScanCommand(tenantScanInput(ref.table, tenantId, segment, cursors.length, startKey)),
        );
      let pending: ReturnType<typeof fetch> | undefined = fetch(cursor.startKey);
      while (pending) {
        const page: Awaited<ReturnType<typeof fetch>> = await pending;
        const next = page.LastEvaluatedKey as Item | undefined;
        // The next page is read while this one is handled; it counts only once handled.
        pending = next ? fetch(next) : undefined;
        pending?.catch(() => undefined);
        await onPage(segment, (page.Items ?? []) as Item[], next);
      }
    }),
  );
}

/** Cursors for a scan from the start. */
export function freshCursors(segments: number): SegmentCursor[] {
  return Array.from({ length: segments }, () => ({ done: false, items: 0, bytes: 0 }));
}

/** Puts or deletes, 25 per BatchWriteItem, UnprocessedItems resent with backoff. */
export async function writeAll(
  ref: TableRef,
  requests: readonly WriteRequest[],
  limiter: Limiter,
  retry: RetryOptions = {},
  onWritten: (count: number) => void = () => undefined,
): Promise<void> {
  const { BatchWriteItemCommand } = sdk.dynamodb();
  await limiter.all(
    chunk(requests, BATCH_WRITE_LIMIT).map((batch) => async () => {
      await untilProcessed(
        batch,
        async (pending) => {
          const { UnprocessedItems } = await ref.client.send(
            new BatchWriteItemCommand({ RequestItems: { [ref.table]: [...pending] } }),
          );
          return UnprocessedItems?.[ref.table] ?? [];
        },
        retry,
      );
      onWritten(batch.length);
    }),
  );
}

export function putRequests(items: readonly Item[]): WriteRequest[] {
  return items.map((Item) => ({ PutRequest: { Item } }));
}

export function deleteRequests(itemKeys: readonly ItemKey[]): WriteRequest[] {
  return itemKeys.map((key) => ({ DeleteRequest: { Key: keyAttributes(key) } }));
}

/** Consistent reads of the given keys, 100 per BatchGetItem, UnprocessedKeys resent. */
export async function getAll(
  ref: TableRef,
  itemKeys: readonly ItemKey[],
  limiter: Limiter,
  retry: RetryOptions = {},
): Promise<Map<string, Item>> {
  const { BatchGetItemCommand } = sdk.dynamodb();
  const found = new Map<string, Item>();
  await limiter.all(
    chunk(itemKeys, BATCH_GET_LIMIT).map(
      (batch) => () =>
        untilProcessed(
          batch.map(keyAttributes),
          async (pending) => {
            const request: KeysAndAttributes = { Keys: [...pending], ConsistentRead: true };
            const { Responses, UnprocessedKeys } = await ref.client.send(
              new BatchGetItemCommand({ RequestItems: { [ref.table]: request } }),
            );
            for (const item of (Responses?.[ref.table] ?? []) as Item[])
              found.set(keyId(itemKey(item)), item);
            return (UnprocessedKeys?.[ref.table]?.Keys ?? []) as Item[];
          },
          retry,
        ),
    ),
  );
  return found;
}

export interface CopyProgress {
  /** Called after a page's items are all written: the checkpoint of its segment. */
  readonly onPageCopied: (segment: number, cursor: SegmentCursor, items: readonly Item[]) => Promise<void>;
  /** Called after each batch is written (progress). */
  readonly onWritten?: (count: number) => void;
}

/**
 * Copies the tenant's items from `source` to `target`, key schema and attributes unchanged:
 * parallel scan segments, each page written in batches of 25 (shared concurrency limit), then
 * its segment's cursor checkpointed. A re-run from the cursors writes at most the pages in
 * flight again: puts of the same items under the same keys, so nothing is duplicated.
 */
export async function copyTenantItems(
  source: TableRef,
  target: TableRef,
  tenantId: string,
  cursors: readonly SegmentCursor[],
  limiter: Limiter,
  progress: CopyProgress,
  retry: RetryOptions = {},
): Promise<SegmentCursor[]> {
  const current = [...cursors];
  await parallelScan(source, tenantId, cursors, async (segment, items, next) => {
    await writeAll(target, putRequests(items), limiter, retry, progress.onWritten);
    const before = current[segment];
    current[segment] = {
      done: next === undefined,
      ...(next ? { startKey: next } : {}),
      items: before.items + items.length,
      bytes: before.bytes + items.reduce((n, item) => n + itemSize(item), 0),
    };
    await progress.onPageCopied(segment, current[segment], items);
  });
  return current;
}

/**
 * Deletes every item of the tenant from a table (a target's leftovers before a copy, the old
 * copy at cleanup); returns how many. `onDeleted` hears each page's count.
 */
export async function deleteTenantItems(
  ref: TableRef,
  tenantId: string,
  segments: number,
  limiter: Limiter,
  onDeleted: (count: number) => void = () => undefined,
  retry: RetryOptions = {},
): Promise<number> {
  let deleted = 0;
  await parallelScan(ref, tenantId, freshCursors(segments), async (_segment, items) => {
    if (items.length === 0) return;
    await writeAll(ref, deleteRequests(items.map(itemKey)), limiter, retry);
    deleted += items.length;
    onDeleted(items.length);
  });
  return deleted;
}
