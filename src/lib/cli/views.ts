import type { AuditRecord, Tenant } from '../tenants/model.js';
import type { Tier } from '../tenants/tiers.js';
import { renderFields, type Column } from './output.js';

export const tenantColumns: readonly Column<Tenant>[] = [
  { header: 'TENANT', get: (t) => t.tenantId },
  { header: 'NAME', get: (t) => t.name },
  { header: 'TIER', get: (t) => t.tier },
  { header: 'ISOLATION', get: (t) => t.isolation },
  { header: 'STATUS', get: (t) => t.status },
  { header: 'REGION', get: (t) => t.region },
  { header: 'UPDATED', get: (t) => t.updatedAt },
];

export const tierColumns: readonly Column<Tier>[] = [
  { header: 'TIER', get: (t) => t.name },
  { header: 'ISOLATION', get: (t) => t.isolation },
  { header: 'PRICE/MONTH', get: (t) => `$${t.monthlyPrice}` },
  { header: 'DESCRIPTION', get: (t) => t.description },
  {
    header: 'MARKETPLACE DIMENSIONS',
    get: (t) =>
      t.dimensions === undefined
        ? '(not mapped)'
        : t.dimensions.map((d) => `${d.metric} → ${d.dimension}`).join(', ') || '(none)',
  },
];

export const auditColumns: readonly Column<AuditRecord>[] = [
  { header: 'AT', get: (a) => a.at },
  { header: 'ACTION', get: (a) => a.action },
  { header: 'STATUS', get: (a) => (a.toStatus ? `${a.fromStatus ?? '-'} → ${a.toStatus}` : '') },
  { header: 'ACTOR', get: (a) => a.actor },
  { header: 'REASON', get: (a) => a.reason },
  {
    header: 'CHANGES',
    get: (a) =>
      Object.entries(a.changes ?? {})
        .map(([field, c]) => `${field}: ${c.from ?? '-'} → ${c.to ?? '-'}`)
        .join('; '),
  },
];

export function tenantFields(tenant: Tenant): string {
  return renderFields({
    tenant: tenant.tenantId,
    name: tenant.name,
    tier: tenant.tier,
    isolation: tenant.isolation,
    status: tenant.statusReason ? `${tenant.status} (${tenant.statusReason})` : tenant.status,
    region: tenant.region,
    'admin email': tenant.adminEmail,
    'plan price': tenant.planPrice === undefined ? undefined : `$${tenant.planPrice}/month`,
    'data table': tenant.dataTable,
    key: tenant.keyArn,
    account: tenant.accountId,
    marketplace: tenant.licenseArn
      ? `account ${tenant.marketplaceAccountId}, license ${tenant.licenseArn}`
      : tenant.marketplaceCustomer && `customer ${tenant.marketplaceCustomer} (legacy)`,
    version: tenant.version,
    created: tenant.createdAt,
    updated: tenant.updatedAt,
  });
}
