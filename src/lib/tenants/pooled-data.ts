import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { sdk } from '../platform/sdk.js';
import { keys } from './keys.js';

const BATCH = 25;
const MAX_UNPROCESSED_ROUNDS = 8;

/**
 * Deletes every pooled item of a tenant: partition key exactly `TENANT#<id>` or starting
 * with `TENANT#<id>#` (never `TENANT#<id>` as a bare prefix: it would match `TENANT#<id>2`).
 * Sharded partitions cannot be listed by key, so this scans the pooled table with a filter:
 * an operator action, rare, paged, and deleting in batches of 25 with UnprocessedItems retried.
 */
export async function deletePooledItems(
  db: DynamoDBDocumentClient,
  table: string,
  tenantId: string,
): Promise<{ deleted: number }> {
  const lib = sdk.documents();
  const partition = keys.tenantPartition(tenantId);
  let deleted = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new lib.ScanCommand({
        TableName: table,
        FilterExpression: 'PK = :pk OR begins_with(PK, :shard)',
        ExpressionAttributeValues: { ':pk': partition, ':shard': `${partition}#` },
        ProjectionExpression: 'PK, SK',
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += BATCH) {
      await deleteBatch(db, table, items.slice(i, i + BATCH));
      deleted += Math.min(BATCH, items.length - i);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return { deleted };
}

async function deleteBatch(
  db: DynamoDBDocumentClient,
  table: string,
  items: readonly Record<string, unknown>[],
): Promise<void> {
  const lib = sdk.documents();
  let requests = items.map((item) => ({ DeleteRequest: { Key: { PK: item.PK, SK: item.SK } } }));
  for (let round = 0; requests.length > 0; round++) {
    if (round >= MAX_UNPROCESSED_ROUNDS) {
      throw Object.assign(new Error(`${requests.length} deletes stayed unprocessed`), {
        name: 'ThrottlingException',
      });
    }
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** round, 2000)));
    const { UnprocessedItems } = await db.send(
      new lib.BatchWriteCommand({ RequestItems: { [table]: requests } }),
    );
    requests = (UnprocessedItems?.[table] ?? []) as typeof requests;
  }
}
