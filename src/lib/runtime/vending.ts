import type { STSClient } from '@aws-sdk/client-sts';

import { isAwsError, SaasctlError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import {
  policyHash,
  serializeSessionPolicy,
  tenantSessionPolicy,
  type PolicyPlatform,
  type PolicyTenant,
} from './policy.js';

/**
 * Token vending: tenant-scoped credentials from STS AssumeRole on the tenant runtime role, with
 * the tenant's session policy and a `tenantId` session tag. Credentials last 15 minutes (STS's
 * minimum) and are cached per (tenant, tier, policy hash) until 5 minutes before they expire, so
 * a request never holds credentials that expire under it, and a changed policy (a tier change, a
 * new table) is never served from the cache.
 */

export interface VendedCredentials {
  readonly tenantId: string;
  readonly tier: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** ISO 8601. */
  readonly expiration: string;
  readonly assumedRoleArn: string;
  readonly policyHash: string;
  /** STS's PackedPolicySize: the percentage of the packed space the policy and tags take. */
  readonly packedPolicySize?: number;
  /** Whether these came from the cache (false: from STS just now). */
  readonly cached: boolean;
}

export interface TokenVendorOptions {
  readonly sts: () => Pick<STSClient, 'send'>;
  /** The tenant runtime role (PlatformConfig.tenantRuntimeRoleArn). */
  readonly roleArn: string;
  /** STS DurationSeconds: 900 (15 minutes, STS's minimum) unless said otherwise. */
  readonly durationSeconds?: number;
  /** Cached credentials are renewed this long before they expire (default 300 s). */
  readonly renewBeforeSeconds?: number;
  /** Entries kept at most (least recently used go first; default 10,000). */
  readonly maxEntries?: number;
  /** Above this PackedPolicySize (percent, default 50) `warn` is told: the policy is nearing STS's limit. */
  readonly packedPolicyWarnPercent?: number;
  readonly warn?: (message: string) => void;
  readonly now?: () => number;
}

export const TENANT_SESSION_SECONDS = 900;
export const TENANT_ID_SESSION_TAG = 'tenantId';

interface Entry {
  readonly pending?: Promise<Omit<VendedCredentials, 'cached'>>;
  value?: Omit<VendedCredentials, 'cached'>;
  expiresAt: number;
}

export class TokenVendor {
  private readonly cache = new Map<string, Entry>();
  private readonly policies = new WeakMap<PolicyPlatform, Map<string, { policy: string; hash: string }>>();
  private readonly durationSeconds: number;
  private readonly renewBeforeMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: TokenVendorOptions) {
    this.durationSeconds = options.durationSeconds ?? TENANT_SESSION_SECONDS;
    this.renewBeforeMs = (options.renewBeforeSeconds ?? 300) * 1000;
    if (this.renewBeforeMs >= this.durationSeconds * 1000) {
      throw new SaasctlError(
        'INVALID_VENDING_CONFIG',
        `Credentials of ${this.durationSeconds} s cannot be renewed ${this.renewBeforeMs / 1000} s before they expire: the renewal margin must be shorter than their lifetime.`,
      );
    }
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Credentials for the tenant, from the cache when they have long enough to live. */
  async vend(tenant: PolicyTenant, config: PolicyPlatform): Promise<VendedCredentials> {
    const { policy, hash } = this.policyOf(tenant, config);
    const key = `${tenant.tenantId}\u0000${tenant.tier}\u0000${hash}`;
    const entry = this.cache.get(key);
    if (entry?.value && entry.expiresAt - this.renewBeforeMs > this.now()) {
      this.cache.delete(key);
      this.cache.set(key, entry);
      return { ...entry.value, cached: true };
    }
    // Another request is fetching these very credentials: share its call.
    if (entry?.pending && !entry.value) return { ...(await entry.pending), cached: false };
    const pending = this.assume(tenant, policy, hash);
    const fresh: Entry = { pending, expiresAt: 0 };
    this.cache.set(key, fresh);
    try {
      fresh.value = await pending;
      fresh.expiresAt = Date.parse(fresh.value.expiration);
    } catch (err) {
      this.cache.delete(key);
      throw err;
    }
    this.evict();
    return { ...fresh.value, cached: false };
  }

  /**
   * The tenant's serialized policy and its hash, remembered per platform config and per the tenant
   * fields the policy depends on: the warm path of every request would otherwise rebuild and hash it.
   */
  private policyOf(tenant: PolicyTenant, config: PolicyPlatform): { policy: string; hash: string } {
    let policies = this.policies.get(config);
    if (!policies) {
      policies = new Map();
      this.policies.set(config, policies);
    }
    const key = [
      tenant.tenantId,
      tenant.tier,
      tenant.isolation,
      tenant.region,
      tenant.dataTable ?? '',
      tenant.keyArn ?? '',
      tenant.accountId ?? '',
    ].join('\u0000');
    let found = policies.get(key);
    if (!found) {
      const policy = serializeSessionPolicy(tenantSessionPolicy(tenant, config));
      found = { policy, hash: policyHash(policy) };
      if (policies.size >= this.maxEntries) policies.clear();
      policies.set(key, found);
    }
    return found;
  }

  /** Drops every cached credential (tests, and a tenant suspended mid-flight). */
  clear(tenantId?: string): void {
    for (const key of this.cache.keys()) {
      if (tenantId === undefined || key.startsWith(`${tenantId}\u0000`)) this.cache.delete(key);
    }
  }

  get size(): number {
    return this.cache.size;
  }

  private async assume(
    tenant: PolicyTenant,
    policy: string,
    hash: string,
  ): Promise<Omit<VendedCredentials, 'cached'>> {
    const { AssumeRoleCommand } = sdk.sts();
    let response;
    try {
      response = await this.options.sts().send(
        new AssumeRoleCommand({
          RoleArn: this.options.roleArn,
          RoleSessionName: `tenant-${tenant.tenantId}`,
          DurationSeconds: this.durationSeconds,
          Policy: policy,
          Tags: [{ Key: TENANT_ID_SESSION_TAG, Value: tenant.tenantId }],
        }),
      );
    } catch (err) {
      if (isAwsError(err, 'PackedPolicyTooLargeException', 'PackedPolicyTooLarge')) {
        throw new SaasctlError(
          'SESSION_POLICY_TOO_LARGE',
          `STS refused the session policy of tenant "${tenant.tenantId}" (${policy.length} characters): ${(err as Error).message}`,
          {
            cause: err,
            actions: ['Shorten resource names, or move statements into the tenant runtime role policy.'],
          },
        );
      }
      throw err;
    }
    const { Credentials: c, AssumedRoleUser, PackedPolicySize } = response;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new SaasctlError(
        'STS_NO_CREDENTIALS',
        `STS AssumeRole into ${this.options.roleArn} returned no credentials.`,
      );
    }
    const warnAt = this.options.packedPolicyWarnPercent ?? 50;
    if (PackedPolicySize !== undefined && PackedPolicySize > warnAt) {
      this.options.warn?.(
        `The session policy of tenant "${tenant.tenantId}" takes ${PackedPolicySize}% of STS's packed policy space (warning above ${warnAt}%).`,
      );
    }
    return {
      tenantId: tenant.tenantId,
      tier: tenant.tier,
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration.toISOString(),
      assumedRoleArn: AssumedRoleUser?.Arn ?? '',
      policyHash: hash,
      ...(PackedPolicySize === undefined ? {} : { packedPolicySize: PackedPolicySize }),
    };
  }

  private evict(): void {
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) return;
      this.cache.delete(oldest);
    }
  }
}
