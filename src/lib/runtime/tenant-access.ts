import { conflict, notFound } from '../cli/errors.js';
import type { Tenant } from '../tenants/model.js';

/**
 * What the runtime (pre-token trigger, authorizer) asks of the catalog on every request: a
 * tenant's record, cached briefly. A suspension therefore reaches the runtime within the cache
 * lifetime (30 seconds by default), bounded and documented, instead of costing a read per request.
 */

export interface TenantReader {
  get(tenantId: string): Promise<Tenant | undefined>;
}

export interface TenantCacheOptions {
  /** How long a record is served from memory (default 30 s). */
  readonly ttlMs?: number;
  /** How long "no such tenant" is remembered (default 5 s): a flood of unknown ids costs little. */
  readonly missingTtlMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

export const TENANT_CACHE_TTL_MS = 30_000;

export class CachedTenantReader implements TenantReader {
  private readonly entries = new Map<string, { at: number; tenant: Promise<Tenant | undefined> }>();
  private readonly ttlMs: number;
  private readonly missingTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly source: TenantReader,
    options: TenantCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? TENANT_CACHE_TTL_MS;
    this.missingTtlMs = options.missingTtlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  async get(tenantId: string): Promise<Tenant | undefined> {
    const entry = this.entries.get(tenantId);
    if (entry) {
      const tenant = await entry.tenant;
      const ttl = tenant ? this.ttlMs : this.missingTtlMs;
      if (this.now() - entry.at < ttl) return tenant;
    }
    const fresh = { at: this.now(), tenant: this.source.get(tenantId) };
    this.entries.delete(tenantId);
    this.entries.set(tenantId, fresh);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    try {
      return await fresh.tenant;
    } catch (err) {
      if (this.entries.get(tenantId) === fresh) this.entries.delete(tenantId);
      throw err;
    }
  }
}

/** The tenant, which must exist and be ACTIVE: no token and no credentials for any other status. */
export function requireActiveTenant(tenantId: string, tenant: Tenant | undefined): Tenant {
  if (!tenant) {
    throw notFound('TENANT_NOT_FOUND', `No tenant "${tenantId}" in the catalog.`, [
      'List tenants with `saasctl tenant list`.',
    ]);
  }
  if (tenant.status !== 'ACTIVE') {
    throw conflict(
      'TENANT_NOT_ACTIVE',
      `Tenant "${tenantId}" is ${tenant.status}: only an ACTIVE tenant's users get tokens and credentials.`,
      [
        `See \`saasctl tenant show ${tenantId}\`; a suspended tenant is resumed with \`saasctl tenant resume\`.`,
      ],
    );
  }
  return tenant;
}
