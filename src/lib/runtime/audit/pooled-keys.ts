import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { sdk } from '../../platform/sdk.js';
import { keys } from '../../tenants/keys.js';
import { tenantIdProblem } from '../../tenants/model.js';
import { isTenantPartition } from '../../tenants/tenant-data.js';
import {
  CHECK_TITLES,
  type AuditCheck,
  type KeyProblem,
  type OffendingKey,
  type PooledKeysDetails,
} from './types.js';

/** How many offending keys the report lists; the counts cover them all. */
export const OFFENDING_SHOWN = 10;

const PARTITION_PREFIX = keys.tenantPartition('');

/**
 * Why a pooled partition key is not a tenant's (DESIGN.md "Data model"): it must be exactly
 * `TENANT#<id>` or `TENANT#<id>#<shard>`, with an id that passes the id rule and is a tenant of
 * the catalog. Anything else is reachable by no tenant's session policy, or by the wrong one.
 */
export function pooledKeyProblem(
  partitionKey: unknown,
  tenants: ReadonlySet<string>,
): KeyProblem | undefined {
  if (typeof partitionKey !== 'string' || !partitionKey.startsWith(PARTITION_PREFIX)) {
    return 'not-tenant-prefixed';
  }
  const rest = partitionKey.slice(PARTITION_PREFIX.length);
  const id = rest.includes('#') ? rest.slice(0, rest.indexOf('#')) : rest;
  if (tenantIdProblem(id) !== undefined || !isTenantPartition(id, partitionKey)) return 'invalid-tenant-id';
  return tenants.has(id) ? undefined : 'unknown-tenant';
}

/**
 * Check 1: every key of the pooled table is a tenant's. The whole table is scanned (operator
 * credentials, keys only, page by page); with a tenant, its own partition is queried instead
 * (its shards cannot be listed by key: the full scan is what covers them).
 */
export async function auditPooledKeys(
  db: DynamoDBDocumentClient,
  table: string,
  tenants: ReadonlySet<string>,
  tenantId?: string,
): Promise<AuditCheck<PooledKeysDetails>> {
  const lib = sdk.documents();
  const byProblem: Record<KeyProblem, number> = {
    'not-tenant-prefixed': 0,
    'invalid-tenant-id': 0,
    'unknown-tenant': 0,
  };
  const firstOffending: OffendingKey[] = [];
  const partitions = new Set<unknown>();
  let items = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      tenantId
        ? new lib.QueryCommand({
            TableName: table,
            KeyConditionExpression: 'PK = :pk',
            ExpressionAttributeValues: { ':pk': keys.tenantPartition(tenantId) },
            ProjectionExpression: 'PK, SK',
            ExclusiveStartKey: startKey,
          })
        : new lib.ScanCommand({
            TableName: table,
            ProjectionExpression: 'PK, SK',
            ExclusiveStartKey: startKey,
          }),
    );
    for (const item of page.Items ?? []) {
      items++;
      partitions.add(item.PK);
      const problem = pooledKeyProblem(item.PK, tenants);
      if (!problem) continue;
      byProblem[problem]++;
      if (firstOffending.length < OFFENDING_SHOWN) firstOffending.push({ PK: item.PK, SK: item.SK, problem });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const offending =
    byProblem['not-tenant-prefixed'] + byProblem['invalid-tenant-id'] + byProblem['unknown-tenant'];
  return {
    id: 'pooled-keys',
    title: CHECK_TITLES['pooled-keys'],
    status: offending === 0 ? 'pass' : 'fail',
    findings: [
      ...firstOffending.map((key) => ({
        subject: `PK=${String(key.PK)} SK=${String(key.SK)}`,
        message: PROBLEM_TEXT[key.problem],
      })),
      ...(offending > firstOffending.length
        ? [
            {
              message: `${offending - firstOffending.length} more offending keys (counts in details.byProblem).`,
            },
          ]
        : []),
    ],
    details: {
      table,
      method: tenantId ? 'query' : 'scan',
      items,
      partitions: partitions.size,
      offending,
      byProblem,
      firstOffending,
    },
  };
}

const PROBLEM_TEXT: Readonly<Record<KeyProblem, string>> = {
  'not-tenant-prefixed':
    'The partition key is not TENANT#<id> or TENANT#<id>#<shard>: no tenant policy covers it.',
  'invalid-tenant-id': 'The partition key names an id that breaks the tenant id rule.',
  'unknown-tenant': 'The partition key names a tenant that is not in the catalog.',
};
