import { usageError } from '../cli/errors.js';

export const TENANT_STATUSES = [
  'PROVISIONING',
  'ACTIVE',
  'SUSPENDED',
  'MIGRATING',
  'OFFBOARDING',
  'DELETED',
] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export const ISOLATION_MODELS = ['pool', 'pool-dedicated-table', 'silo', 'silo-account'] as const;
export type IsolationModel = (typeof ISOLATION_MODELS)[number];

/** A tenant record as the catalog stores it and `--json` returns it (camelCase, as AWS does). */
export interface Tenant {
  readonly tenantId: string;
  readonly name: string;
  readonly tier: string;
  readonly isolation: IsolationModel;
  readonly status: TenantStatus;
  readonly region: string;
  readonly adminEmail: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Monthly plan price in USD when it differs from the tier's. */
  readonly planPrice?: number;
  readonly dataTable?: string;
  readonly keyArn?: string;
  readonly accountId?: string;
  /** The Organizations CreateAccount request, while the tenant's account is being created. */
  readonly accountRequestId?: string;
  readonly statusReason?: string;
  /** AWS Marketplace buyer (Concurrent Agreements): the buyer's AWS account, with licenseArn. */
  readonly marketplaceAccountId?: string;
  /** The buyer's Marketplace license (License Manager ARN), with marketplaceAccountId. */
  readonly licenseArn?: string;
  /** AWS Marketplace buyer of a legacy integration: the CustomerIdentifier from ResolveCustomer. */
  readonly marketplaceCustomer?: string;
}

export interface AuditRecord {
  readonly tenantId: string;
  readonly at: string;
  readonly action: string;
  readonly actor: string;
  readonly reason?: string;
  /** The tenant version this change produced. */
  readonly version: number;
  readonly fromStatus?: TenantStatus;
  readonly toStatus?: TenantStatus;
  readonly changes?: Record<string, { from?: string | number; to?: string | number }>;
}

const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]*[a-z0-9]$/;

/**
 * Words a tenant id may not be: they collide with saasctl's own names in keys, groups,
 * aliases and prefixes, or read as something they are not.
 */
export const RESERVED_TENANT_IDS: ReadonlySet<string> = new Set([
  'admin',
  'administrator',
  'all',
  'api',
  'audit',
  'aws',
  'default',
  'global',
  'internal',
  'null',
  'platform',
  'pool',
  'pooled',
  'profile',
  'root',
  'saasctl',
  'silo',
  'system',
  'tenant',
  'tenants',
  'test',
  'tier',
  'undefined',
]);

export const TENANT_ID_RULE =
  'a tenant id is 3-32 characters of lowercase letters, digits and hyphens, starts and ends with a letter or digit, has no "--", and is not a reserved word';

/** The rule from DESIGN.md: safe in keys, policies, tags, prefixes, aliases, execution and group names. */
export function tenantIdProblem(id: string): string | undefined {
  if (id.length < 3 || id.length > 32) return `it is ${id.length} characters long (3-32 allowed)`;
  if (!TENANT_ID_PATTERN.test(id)) {
    return 'it may hold only lowercase letters, digits and hyphens, and must start and end with a letter or digit';
  }
  if (id.includes('--')) return 'it contains "--"';
  if (RESERVED_TENANT_IDS.has(id)) return `"${id}" is a reserved word`;
  return undefined;
}

export function assertTenantId(id: string): string {
  const problem = tenantIdProblem(id);
  if (problem) {
    throw usageError('INVALID_TENANT_ID', `Invalid tenant id "${id}": ${problem}. Rule: ${TENANT_ID_RULE}.`);
  }
  return id;
}

// Practical address check (RFC 5322 is wider, but Cognito and mail systems accept this subset).
const EMAIL_PATTERN =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function assertEmail(email: string): string {
  if (email.length > 254 || !EMAIL_PATTERN.test(email) || email.split('@')[0].length > 64) {
    throw usageError(
      'INVALID_EMAIL',
      `Invalid email address "${email}": expected local-part@domain with a dotted domain, at most 254 characters.`,
    );
  }
  return email.toLowerCase();
}

export function assertDisplayName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 128 || /\p{Cc}/u.test(trimmed)) {
    throw usageError(
      'INVALID_NAME',
      `Invalid display name: a name is 1-128 printable characters (got ${JSON.stringify(name)}).`,
    );
  }
  return trimmed;
}

export function assertPlanPrice(price: number): number {
  if (
    !Number.isFinite(price) ||
    price < 0 ||
    price > 10_000_000 ||
    Math.abs(Math.round(price * 100) - price * 100) > 1e-6
  ) {
    throw usageError(
      'INVALID_PLAN_PRICE',
      `Invalid plan price ${price}: a price is a non-negative amount in USD with at most two decimals.`,
    );
  }
  return price;
}

export function assertReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length < 3 || trimmed.length > 512) {
    throw usageError('INVALID_REASON', 'A reason is 3-512 characters: say why, for the audit trail.');
  }
  return trimmed;
}
