import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { AwsClientFactory } from '../platform/clients.js';
import { localPlatformConfig, type PlatformConfig } from '../platform/config.js';
import { CONTROL_PLANE_INDEX } from '../tenants/keys.js';
import { TierCatalog } from '../tenants/tiers.js';
import type { LocalService } from './services.js';

/**
 * Creates the platform's resources in a freshly started emulator (tables, bucket, stream,
 * user pool), looking before creating, and seeds the tier catalog. Runs in the stack's owner
 * process each time a service starts, so a reset home is rebuilt on the next command.
 */
export async function bootstrapService(
  service: LocalService,
  clients: AwsClientFactory,
  home: string,
  stage: string,
  region: string,
): Promise<Partial<PlatformConfig['userPool']>> {
  const names = localPlatformConfig(stage, region, { id: '', clientId: '' });
  switch (service) {
    case 'dynamodb':
      await ensureTables(clients, names);
      await new TierCatalog(clients.documents(), names.tables.controlPlane).seedDefaults();
      return {};
    case 's3':
      await ensureBucket(clients, names.rawLakeBucket);
      return {};
    case 'kinesis':
      await ensureStream(clients, names.usageStream);
      return {};
    case 'cognito':
      return ensureUserPool(clients, home, stage);
  }
}

async function ensureTables(clients: AwsClientFactory, names: PlatformConfig): Promise<void> {
  const ddb = await import('@aws-sdk/client-dynamodb');
  const db = clients.dynamodb();
  const existing = new Set((await db.send(new ddb.ListTablesCommand({}))).TableNames ?? []);
  const keySchema = {
    AttributeDefinitions: [
      { AttributeName: 'PK', AttributeType: 'S' as const },
      { AttributeName: 'SK', AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: 'PK', KeyType: 'HASH' as const },
      { AttributeName: 'SK', KeyType: 'RANGE' as const },
    ],
    BillingMode: 'PAY_PER_REQUEST' as const,
  };
  const tables = [
    {
      TableName: names.tables.controlPlane,
      ...keySchema,
      AttributeDefinitions: [
        ...keySchema.AttributeDefinitions,
        { AttributeName: 'gsi1pk', AttributeType: 'S' as const },
        { AttributeName: 'gsi1sk', AttributeType: 'S' as const },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: CONTROL_PLANE_INDEX,
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' as const },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' as const },
          ],
          Projection: { ProjectionType: 'ALL' as const },
        },
      ],
    },
    { TableName: names.tables.pooled, ...keySchema },
    { TableName: names.tables.usage, ...keySchema },
    { TableName: names.tables.ledger, ...keySchema },
  ];
  for (const table of tables) {
    if (existing.has(table.TableName)) continue;
    try {
      await db.send(new ddb.CreateTableCommand(table));
    } catch (err) {
      if ((err as Error).name !== 'ResourceInUseException') throw err;
    }
  }
}

async function ensureBucket(clients: AwsClientFactory, bucket: string): Promise<void> {
  const s3 = await import('@aws-sdk/client-s3');
  try {
    await clients.s3().send(new s3.HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await clients.s3().send(new s3.CreateBucketCommand({ Bucket: bucket }));
  }
}

async function ensureStream(clients: AwsClientFactory, stream: string): Promise<void> {
  const kinesis = await import('@aws-sdk/client-kinesis');
  const { StreamNames } = await clients.kinesis().send(new kinesis.ListStreamsCommand({}));
  if (StreamNames?.includes(stream)) return;
  await clients.kinesis().send(new kinesis.CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
}

export const OPERATORS_GROUP = 'saasctl-operators';

/**
 * cognito-local makes up pool and client ids, so the ids are remembered in the home and
 * checked against the emulator on each start.
 */
async function ensureUserPool(
  clients: AwsClientFactory,
  home: string,
  stage: string,
): Promise<PlatformConfig['userPool']> {
  const idp = await import('@aws-sdk/client-cognito-identity-provider');
  const cognito = clients.cognito();
  const file = path.join(home, 'cognito', 'pool.json');
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as PlatformConfig['userPool'];
    await cognito.send(
      new idp.DescribeUserPoolClientCommand({ UserPoolId: saved.id, ClientId: saved.clientId }),
    );
    return saved;
  } catch {
    // No saved pool, or the emulator lost it: create one.
  }
  const { UserPool } = await cognito.send(
    new idp.CreateUserPoolCommand({
      PoolName: `saasctl-${stage}`,
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      Schema: [
        {
          Name: 'tenantId',
          AttributeDataType: 'String',
          Mutable: true,
          StringAttributeConstraints: { MaxLength: '32' },
        },
        {
          Name: 'tier',
          AttributeDataType: 'String',
          Mutable: true,
          StringAttributeConstraints: { MaxLength: '32' },
        },
      ],
    }),
  );
  const { UserPoolClient } = await cognito.send(
    new idp.CreateUserPoolClientCommand({
      UserPoolId: UserPool?.Id,
      ClientName: `saasctl-${stage}-app`,
      ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      ReadAttributes: ['email', 'email_verified', 'name', 'custom:tenantId', 'custom:tier'],
      // Tenant claims are set server-side only: app clients may not write them.
      WriteAttributes: ['email', 'name'],
    }),
  );
  const pool = { id: String(UserPool?.Id), clientId: String(UserPoolClient?.ClientId) };
  // cognito-local answers GetGroup with a 500 while a pool has no group at all (it reads a
  // missing map); the operators' group both is useful and keeps that map present.
  await cognito.send(
    new idp.CreateGroupCommand({
      UserPoolId: pool.id,
      GroupName: OPERATORS_GROUP,
      Description: 'Platform operators (not a tenant)',
    }),
  );
  await writeFile(file, JSON.stringify(pool, null, 2));
  return pool;
}
