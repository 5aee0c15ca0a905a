import { conflict } from '../cli/errors.js';
import type { Platform } from '../platform/platform.js';
import { catalogs, tenantClients } from '../tenants/context.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { assertReason, assertTenantId, type Tenant } from '../tenants/model.js';
import { isPooled } from '../tenants/tiers.js';
import {
  setTenantKeyEnabled,
  tenantKeyStatus,
  type KillSwitchResult,
  type TenantKeyStatus,
} from './tenant-key.js';

/** `key status`, `key disable`, `key enable`: the per-tenant kill switch, for operators. */

export interface KeyStatusResult extends TenantKeyStatus {
  readonly tenantId: string;
}

export async function keyStatus(open: PlatformSource, tenantId: string): Promise<KeyStatusResult> {
  const id = assertTenantId(tenantId);
  const platform = await open();
  const tenant = await siloTenant(platform, id);
  const status = await tenantKeyStatus(
    tenantClients(platform, tenant.region, tenant.accountId).kms(),
    platform.config.stage,
    id,
  );
  return { tenantId: id, ...status };
}

export interface KeySwitchResult extends KillSwitchResult {
  readonly tenantId: string;
}

/**
 * Disables or enables a silo tenant's key, audits it, and proves the effect (KMS refuses a
 * GenerateDataKey with a disabled key). Data already read stays readable in the runtime until
 * its cached data keys expire (src/lib/keys/data-key-cache.ts, 5 minutes by default).
 */
export async function switchKey(
  open: PlatformSource,
  tenantId: string,
  enabled: boolean,
  reason: string,
): Promise<KeySwitchResult> {
  const id = assertTenantId(tenantId);
  const why = assertReason(reason);
  const platform = await open();
  const tenant = await siloTenant(platform, id);
  const kms = tenantClients(platform, tenant.region, tenant.accountId).kms();
  const result = await setTenantKeyEnabled(kms, platform.config.stage, id, enabled);
  if (result.changed) {
    await catalogs(platform).catalog.recordEvent(id, {
      action: enabled ? 'key-enable' : 'key-disable',
      actor: await platform.actor(),
      reason: why,
      changes: { keyState: { from: enabled ? 'Disabled' : 'Enabled', to: result.keyState } },
    });
  }
  return { tenantId: id, ...result };
}

async function siloTenant(platform: Platform, tenantId: string): Promise<Tenant> {
  const tenant = await catalogs(platform).catalog.require(tenantId);
  if (isPooled(tenant.isolation)) {
    throw conflict(
      'POOLED_TENANT_HAS_NO_KEY',
      `Tenant "${tenantId}" is pooled (${tenant.tier}): its data is under the platform key, not a key of its own.`,
      [`To cut a pooled tenant off, suspend it: saasctl tenant suspend ${tenantId} --reason "..."`],
    );
  }
  return tenant;
}
