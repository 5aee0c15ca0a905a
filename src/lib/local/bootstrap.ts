import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { CostCatalog } from '../insight/cost-model.js';
import type { AwsClientFactory } from '../platform/clients.js';
import { localPlatformConfig, type PlatformConfig } from '../platform/config.js';
import { waitForTableActive } from '../platform/dynamo.js';
import { sdk } from '../platform/sdk.js';
import { CONTROL_PLANE_INDEX } from '../tenants/keys.js';
import { TierCatalog } from '../tenants/tiers.js';
import type { LocalService } from './services.js';

/** Bump when the resources a home needs change: homes bootstrapped before are checked again. */
const BOOTSTRAP_VERSION = '4';

/**
 * Creates the platform's resources in a freshly started emulator (tables, bucket, stream,
 * user pool), looking before creating, and seeds the tier catalog. Runs in the stack's owner
 * process when a service starts; a marker in the service's state folder skips the work on
 * later starts (a reset removes the folder, marker included, so the home is rebuilt).
 */
export async function bootstrapService(
  service: LocalService,
  clients: AwsClientFactory,
  home: string,
  stage: string,
  region: string,
): Promise<Partial<PlatformConfig['userPool']>> {
  if (service === 'cognito') return ensureUserPool(clients, home, stage);
  const marker = path.join(home, service, `.bootstrapped-${stage}`);
  if ((await readFile(marker, 'utf8').catch(() => '')) === BOOTSTRAP_VERSION) return {};
  await createResources(service, clients, localPlatformConfig(stage, region, { id: '', clientId: '' }));
  await writeFile(marker, BOOTSTRAP_VERSION);
  return {};
}

async function createResources(
  service: Exclude<LocalService, 'cognito'>,
  clients: AwsClientFactory,
  names: PlatformConfig,
): Promise<void> {
  switch (service) {
    case 'dynamodb':
      await ensureTables(clients, names);
      await new TierCatalog(clients.documents(), names.tables.controlPlane).seedDefaults();
      await new CostCatalog(clients.documents(), names.tables.controlPlane).seedDefaults();
      return;
    case 's3':
      await ensureBucket(clients, names.rawLakeBucket);
      if (names.tenantDataBucket) await ensureBucket(clients, names.tenantDataBucket);
      return;
    case 'kinesis':
      return ensureStream(clients, names.usageStream);
    case 'kms':
    case 'organizations':
    case 'marketplace':
    case 'sts':
    case 'postgres':
      // Tenant keys, accounts and Marketplace subscriptions come with onboarding, STS sessions with
      // vending; PostgreSQL migrates its schema as it starts (local/postgres.ts): nothing to set up.
      return;
  }
}

async function ensureTables(clients: AwsClientFactory, names: PlatformConfig): Promise<void> {
  const ddb = sdk.dynamodb();
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
    await waitForTableActive(db, table.TableName);
  }
}

async function ensureBucket(clients: AwsClientFactory, bucket: string): Promise<void> {
  const s3 = sdk.s3();
  try {
    await clients.s3().send(new s3.HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await clients.s3().send(new s3.CreateBucketCommand({ Bucket: bucket }));
  }
}

async function ensureStream(clients: AwsClientFactory, stream: string): Promise<void> {
  const kinesis = sdk.kinesis();
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
  const idp = sdk.cognito();
  const cognito = clients.cognito();
  const file = path.join(home, 'cognito', `pool-${stage}.json`);
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
