import type { PlatformSource } from '../tenants/lifecycle.js';
import { catalogs } from '../tenants/context.js';
import { assertReason, assertTenantId, type IsolationModel } from '../tenants/model.js';
import {
  policyHash,
  SESSION_POLICY_MAX_CHARS,
  serializeSessionPolicy,
  tenantSessionPolicy,
  type SessionPolicy,
} from './policy.js';
import { requireActiveTenant } from './tenant-access.js';
import { TokenVendor, type VendedCredentials } from './vending.js';

/** `creds policy` and `creds vend`: the operator's view of what the authorizer hands a tenant. */

export interface CredsPolicyResult {
  readonly tenantId: string;
  readonly tier: string;
  readonly isolation: IsolationModel;
  readonly policy: SessionPolicy;
  /** Characters of the compact JSON STS receives, and STS's limit. */
  readonly characters: number;
  readonly limit: number;
  readonly policyHash: string;
}

export async function credsPolicy(open: PlatformSource, tenantId: string): Promise<CredsPolicyResult> {
  const id = assertTenantId(tenantId);
  const platform = await open();
  const tenant = await catalogs(platform).catalog.require(id);
  const policy = tenantSessionPolicy(tenant, platform.config);
  const text = serializeSessionPolicy(policy);
  return {
    tenantId: id,
    tier: tenant.tier,
    isolation: tenant.isolation,
    policy,
    characters: text.length,
    limit: SESSION_POLICY_MAX_CHARS,
    policyHash: policyHash(text),
  };
}

export type CredsVendResult = Omit<VendedCredentials, 'cached'>;

/**
 * Vends the tenant's credentials as the authorizer would (ACTIVE tenants only, same policy, same
 * tag), for debugging, and audits it on the tenant with the session's access key id.
 */
export async function credsVend(
  open: PlatformSource,
  tenantId: string,
  reason: string,
  warn: (message: string) => void,
): Promise<CredsVendResult> {
  const id = assertTenantId(tenantId);
  const why = assertReason(reason);
  const platform = await open();
  const { catalog } = catalogs(platform);
  const tenant = requireActiveTenant(id, await catalog.get(id));
  const vendor = new TokenVendor({
    sts: () => platform.clients.sts(),
    roleArn: platform.config.tenantRuntimeRoleArn,
    warn,
  });
  const { cached: _cached, ...credentials } = await vendor.vend(tenant, platform.config);
  await catalog.recordEvent(id, {
    action: 'creds-vend',
    actor: await platform.actor(),
    reason: why,
    changes: {
      accessKeyId: { to: credentials.accessKeyId },
      policyHash: { to: credentials.policyHash },
      expiration: { to: credentials.expiration },
    },
  });
  return credentials;
}
