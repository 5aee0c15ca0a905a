import { createHash } from 'node:crypto';

import { SaasctlError } from '../cli/errors.js';
import type { PlatformConfig } from '../platform/config.js';
import { keys } from '../tenants/keys.js';
import { assertTenantId, type Tenant } from '../tenants/model.js';
import { isPooled } from '../tenants/tiers.js';

/**
 * The tenant session policy (DESIGN.md "Data model"): what tenant-scoped credentials may do,
 * as an inline session policy passed to STS AssumeRole. The tenant runtime role grants the
 * runtime's whole reach; this policy narrows one session to one tenant. IAM intersects the two.
 */

export type ConditionBlock = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

/**
 * A statement of the session policy. No `Sid`: STS counts every character of the policy, and
 * the statements' ids would take the room a 32-character tenant id needs to stay under half of
 * the limit; the statements keep a fixed order (items, no scan, no index, objects, key).
 */
export interface PolicyStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: ConditionBlock;
}

export interface SessionPolicy {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

/** STS refuses an inline session policy longer than this (plain text, before packing). */
export const SESSION_POLICY_MAX_CHARS = 2048;

/** What the policy needs to know of a tenant: its id and where its data and key are. */
export type PolicyTenant = Pick<Tenant, 'tenantId' | 'tier' | 'isolation' | 'region'> &
  Partial<Pick<Tenant, 'dataTable' | 'keyArn' | 'accountId'>>;

/** What the policy needs to know of the platform: names and the account. */
export type PolicyPlatform = Pick<
  PlatformConfig,
  'region' | 'accountId' | 'tables' | 'tenantRuntimeRoleArn' | 'tenantDataBucket'
>;

/**
 * The DynamoDB actions a tenant session may use, each of which carries `dynamodb:LeadingKeys`:
 * `*Item` is GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, BatchWriteItem and
 * ConditionCheckItem (the tests check the expansion against IAM's action list). The wildcard
 * keeps the policy under half of STS's limit for every tier.
 */
export const TENANT_ITEM_ACTIONS = ['dynamodb:*Item', 'dynamodb:Query'] as const;

/** What `dynamodb:*Item` stands for: the actions the tests expect it to reach, and no other. */
export const TENANT_ITEM_ACTIONS_EXPANDED = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:Query',
] as const;

export const TENANT_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'] as const;
export const TENANT_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

/**
 * The partition keys a tenant may touch: exactly `TENANT#<id>`, or `TENANT#<id>#` followed by
 * a shard. Never `TENANT#<id>*`: that also matches `TENANT#<id>2`, another tenant.
 */
export function tenantLeadingKeys(tenantId: string): [string, string] {
  const partition = keys.tenantPartition(tenantId);
  return [partition, `${partition}#*`];
}

/** The S3 prefix of a tenant's objects: `<id>/` (the slash keeps `acme` out of `acme2/`). */
export function tenantObjectPrefix(tenantId: string): string {
  return `${tenantId}/`;
}

/**
 * Builds the tenant's session policy. The id is checked first (DESIGN.md id rule): a character
 * such as `*`, `?`, `$`, `"`, `\` or `#` would change what the policy matches, so nothing is built
 * for an id that breaks the rule.
 */
export function tenantSessionPolicy(tenant: PolicyTenant, config: PolicyPlatform): SessionPolicy {
  const id = assertTenantId(tenant.tenantId);
  const partition = partitionOf(config.tenantRuntimeRoleArn);
  const tables = tenantTables(tenant, config).map(
    (t) => `arn:${partition}:dynamodb:${t.region}:${t.accountId}:table/${t.name}`,
  );
  const statements: PolicyStatement[] = [
    {
      Effect: 'Allow',
      Action: TENANT_ITEM_ACTIONS,
      Resource: single(tables),
      Condition: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': tenantLeadingKeys(id) },
        // ForAllValues holds for an empty set: a request without leading keys gets nothing here.
        Null: { 'dynamodb:LeadingKeys': 'false' },
      },
    },
    {
      Effect: 'Deny',
      Action: ['dynamodb:Scan', 'dynamodb:PartiQL*'],
      Resource: '*',
    },
    {
      // No index of the data tables is keyed by tenant: a Query on one would cross tenants.
      Effect: 'Deny',
      Action: 'dynamodb:*',
      Resource: `arn:${partition}:dynamodb:*:*:table/*/index/*`,
    },
  ];
  if (config.tenantDataBucket) {
    // No s3:ListBucket: the runtime finds objects through its items, never by listing.
    statements.push({
      Effect: 'Allow',
      Action: TENANT_OBJECT_ACTIONS,
      Resource: `arn:${partition}:s3:::${config.tenantDataBucket}/${tenantObjectPrefix(id)}*`,
    });
  }
  if (tenant.keyArn) {
    statements.push({
      Effect: 'Allow',
      Action: TENANT_KEY_ACTIONS,
      Resource: tenant.keyArn,
      Condition: { StringEquals: { 'kms:EncryptionContext:tenantId': id } },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** The policy as STS receives it: compact JSON, refused when STS would refuse it. */
export function serializeSessionPolicy(policy: SessionPolicy): string {
  const text = JSON.stringify(policy);
  if (text.length > SESSION_POLICY_MAX_CHARS) {
    throw new SaasctlError(
      'SESSION_POLICY_TOO_LARGE',
      `The session policy is ${text.length} characters: STS accepts at most ${SESSION_POLICY_MAX_CHARS} for an inline session policy.`,
      { actions: ['Shorten resource names, or move statements into the tenant runtime role policy.'] },
    );
  }
  return text;
}

/** A short, stable digest of the serialized policy: part of the credentials' cache key. */
export function policyHash(serialized: string): string {
  return createHash('sha256').update(serialized).digest('hex').slice(0, 16);
}

interface TableRef {
  readonly name: string;
  readonly region: string;
  readonly accountId: string;
}

/**
 * Where the tenant's items live: the pooled table for pooled tiers (plus its dedicated table
 * for business), its own table for silo tiers (only that table: a silo tenant has no reason to
 * reach the pool).
 */
function tenantTables(tenant: PolicyTenant, config: PolicyPlatform): TableRef[] {
  const own = tenant.dataTable
    ? [
        {
          name: tenant.dataTable,
          region: tenant.region,
          accountId: tenant.accountId ?? config.accountId,
        },
      ]
    : [];
  if (isPooled(tenant.isolation)) {
    return [{ name: config.tables.pooled, region: config.region, accountId: config.accountId }, ...own];
  }
  if (own.length === 0) {
    throw new SaasctlError(
      'TENANT_TABLE_MISSING',
      `Silo tenant "${tenant.tenantId}" has no data table recorded: its session policy would name no table.`,
      {
        exitCode: 4,
        actions: [`See \`saasctl tenant status ${tenant.tenantId}\`; onboarding may be unfinished.`],
      },
    );
  }
  return own;
}

/** `aws`, `aws-cn` or `aws-us-gov`, from an ARN of the platform. */
function partitionOf(arn: string): string {
  return /^arn:([a-z-]+):/.exec(arn)?.[1] ?? 'aws';
}

function single(values: readonly string[]): string | readonly string[] {
  return values.length === 1 ? values[0] : values;
}
