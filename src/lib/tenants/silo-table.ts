import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

import { isAwsError } from '../cli/errors.js';
import { waitForTableActive } from '../platform/dynamo.js';
import { sdk } from '../platform/sdk.js';

/** `<stage>-tenant-<id>`: a silo tenant's dedicated table. */
export function tenantTableName(stage: string, tenantId: string): string {
  return `${stage}-tenant-${tenantId}`;
}

export interface TenantTableRequest {
  readonly stage: string;
  readonly tenantId: string;
  readonly keyArn: string;
}

export interface TenantTableResult {
  readonly tableName: string;
  readonly created: boolean;
  /** Whether point-in-time recovery is on; false where the emulator lacks the API. */
  readonly pointInTimeRecovery: boolean;
}

/**
 * The silo tenant's table: the pooled table's key schema (PK, SK), encrypted with the
 * tenant's own key, point-in-time recovery on, tagged for cost allocation. Looks before it
 * creates. dynalite has no UpdateContinuousBackups (UnknownOperationException): locally the
 * table is created without PITR and the result says so.
 */
export async function ensureTenantTable(
  db: DynamoDBClient,
  request: TenantTableRequest,
): Promise<TenantTableResult> {
  const ddb = sdk.dynamodb();
  const TableName = tenantTableName(request.stage, request.tenantId);
  let created = false;
  let status: string | undefined;
  try {
    status = (await db.send(new ddb.DescribeTableCommand({ TableName }))).Table?.TableStatus;
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
    try {
      await db.send(
        new ddb.CreateTableCommand({
          TableName,
          AttributeDefinitions: [
            { AttributeName: 'PK', AttributeType: 'S' },
            { AttributeName: 'SK', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'PK', KeyType: 'HASH' },
            { AttributeName: 'SK', KeyType: 'RANGE' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
          SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: request.keyArn },
          Tags: [
            { Key: 'tenantId', Value: request.tenantId },
            { Key: 'saasctl:stage', Value: request.stage },
          ],
        }),
      );
      created = true;
    } catch (createErr) {
      if (!isAwsError(createErr, 'ResourceInUseException')) throw createErr;
    }
  }
  // Still CREATING after a crash right after CreateTable, or just created: wait for it.
  if (status !== 'ACTIVE') await waitForTableActive(db, TableName);
  let pointInTimeRecovery = true;
  try {
    await db.send(
      new ddb.UpdateContinuousBackupsCommand({
        TableName,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    );
  } catch (err) {
    if (!isAwsError(err, 'UnknownOperationException')) throw err;
    pointInTimeRecovery = false;
  }
  return { tableName: TableName, created, pointInTimeRecovery };
}

/** Deletes the silo tenant's table; already gone is success. */
export async function deleteTenantTable(
  db: DynamoDBClient,
  stage: string,
  tenantId: string,
): Promise<boolean> {
  try {
    await db.send(new (sdk.dynamodb().DeleteTableCommand)({ TableName: tenantTableName(stage, tenantId) }));
    return true;
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return false;
    throw err;
  }
}
