import { SaasctlError } from '../cli/errors.js';

/**
 * Every resource name the CLI needs. The CDK app writes it to the SSM parameter
 * `/saasctl/<stage>/platform` (JSON); the local stack builds it from its own resources.
 * This one type is shared by both sides.
 */
export interface PlatformConfig {
  readonly schemaVersion: 1;
  readonly stage: string;
  readonly region: string;
  readonly tables: {
    /** Tenant records, audit trail, tier catalog. */
    readonly controlPlane: string;
    /** Pooled application data: partition key TENANT#<id> or TENANT#<id>#<shard>. */
    readonly pooled: string;
    /** Usage counters per tenant, metric and hour. */
    readonly usage: string;
    /** Marketplace metering ledger. */
    readonly ledger: string;
  };
  readonly rawLakeBucket: string;
  /**
   * Tenants' application objects, each tenant under its own `<id>/` prefix (the session policy
   * grants that prefix only). Absent on stages deployed before it existed: sessions then get no S3.
   */
  readonly tenantDataBucket?: string;
  readonly usageStream: string;
  readonly userPool: {
    readonly id: string;
    readonly clientId: string;
  };
  readonly stateMachines?: {
    readonly onboarding?: string;
    readonly offboarding?: string;
  };
  /** The platform's account (key policies name its root). */
  readonly accountId: string;
  /** The role the authorizer assumes for tenant-scoped credentials (key policies name it). */
  readonly tenantRuntimeRoleArn: string;
  /**
   * Where the `athena` engine of `metering reconcile` runs its SQL: the infra app writes it with the
   * Glue table it defines over the raw lake. Absent on the local target, which has no Athena.
   */
  readonly athena?: {
    readonly workgroup: string;
    /** The Glue database and table over `raw/`, partitioned by arrival hour (`dt`). */
    readonly database: string;
    readonly table: string;
  };
  /**
   * The AWS Marketplace product, for buyers known by the legacy CustomerIdentifier (BatchMeterUsage
   * takes their ProductCode per request; buyers with a LicenseArn need none). Absent when the
   * product has only Concurrent Agreements buyers.
   */
  readonly marketplace?: {
    readonly productCode: string;
  };
}

export function platformParameterName(stage: string): string {
  return `/saasctl/${stage}/platform`;
}

/** Local resource names are fixed per stage; only the user pool ids come from cognito-local. */
export function localPlatformConfig(
  stage: string,
  region: string,
  userPool: PlatformConfig['userPool'],
): PlatformConfig {
  return {
    schemaVersion: 1,
    stage,
    region,
    tables: {
      controlPlane: `saasctl-${stage}-control-plane`,
      pooled: `saasctl-${stage}-pooled`,
      usage: `saasctl-${stage}-usage`,
      ledger: `saasctl-${stage}-marketplace-ledger`,
    },
    rawLakeBucket: `saasctl-${stage}-raw-lake`,
    tenantDataBucket: `saasctl-${stage}-tenant-data`,
    usageStream: `saasctl-${stage}-usage`,
    userPool,
    accountId: LOCAL_ACCOUNT_ID,
    tenantRuntimeRoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/saasctl-${stage}-tenant-runtime`,
  };
}

/** The account id the local emulators answer with. */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** The product the local Marketplace Metering emulator knows, for legacy (CustomerIdentifier) buyers. */
export const LOCAL_MARKETPLACE_PRODUCT_CODE = 'saasctllocalproduct';

/** Checks a platform parameter's JSON before anything uses it, naming what is missing. */
export function parsePlatformConfig(json: string, source: string): PlatformConfig {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw invalid(source, 'it is not valid JSON', err);
  }
  const required = [
    'stage',
    'region',
    'tables.controlPlane',
    'tables.pooled',
    'tables.usage',
    'tables.ledger',
    'rawLakeBucket',
    'usageStream',
    'userPool.id',
    'userPool.clientId',
    'accountId',
    'tenantRuntimeRoleArn',
  ];
  // Optional as a whole, complete when present: a half-written athena block is a broken deploy.
  if (pick(value, 'athena') !== undefined) {
    required.push('athena.workgroup', 'athena.database', 'athena.table');
  }
  if (pick(value, 'marketplace') !== undefined) required.push('marketplace.productCode');
  const missing = required.filter((p) => typeof pick(value, p) !== 'string' || pick(value, p) === '');
  if (missing.length > 0) throw invalid(source, `it lacks ${missing.join(', ')}`);
  if (pick(value, 'schemaVersion') !== 1) throw invalid(source, 'its schemaVersion is not 1');
  return value as PlatformConfig;
}

function pick(value: unknown, dotted: string): unknown {
  let current = value;
  for (const key of dotted.split('.')) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function invalid(source: string, why: string, cause?: unknown): SaasctlError {
  return new SaasctlError(
    'PLATFORM_CONFIG_INVALID',
    `The platform configuration ${source} is unusable: ${why}.`,
    {
      cause,
      actions: [
        'Redeploy the infra app for this stage (npm run deploy in infra/), which rewrites the parameter.',
      ],
    },
  );
}
