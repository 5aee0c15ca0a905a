import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';

import { SaasctlError } from '../cli/errors.js';
import { sdk } from './sdk.js';

/** Every item a query matches, following LastEvaluatedKey page by page. */
export async function queryAll(
  db: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new (sdk.documents().QueryCommand)({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** The named attributes of a stored item that are present, without its keys and bookkeeping. */
export function pickFields<T>(item: Record<string, unknown>, fields: readonly string[]): T {
  const picked: Record<string, unknown> = {};
  for (const field of fields) if (item[field] !== undefined) picked[field] = item[field];
  return picked as T;
}

/**
 * Waits until a table is ACTIVE. A new table takes a moment (dynalite too: item writes to a
 * table still CREATING answer ResourceNotFoundException).
 */
export async function waitForTableActive(db: DynamoDBClient, TableName: string): Promise<void> {
  const ddb = sdk.dynamodb();
  for (let attempt = 0; attempt < 60; attempt++) {
    const { Table } = await db.send(new ddb.DescribeTableCommand({ TableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 5000)));
  }
  throw new SaasctlError('TABLE_NOT_ACTIVE', `The table ${TableName} did not become ACTIVE in time.`, {
    actions: ['Re-run the same command: the step resumes where it stopped.'],
  });
}
