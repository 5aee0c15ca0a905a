/** Key layout of the control-plane table (DESIGN.md "Data model"). One place, never repeated. */
export const CONTROL_PLANE_INDEX = 'gsi1';

export const keys = {
  tenant: (tenantId: string) => ({ PK: `TENANT#${tenantId}`, SK: 'PROFILE' }),
  tenantPartition: (tenantId: string) => `TENANT#${tenantId}`,
  /** Audit items sort by time, then by the version they record (zero-padded to sort as text). */
  audit: (tenantId: string, at: string, version: number) => ({
    PK: `TENANT#${tenantId}`,
    SK: `AUDIT#${at}#${String(version).padStart(8, '0')}`,
  }),
  auditPrefix: 'AUDIT#',
  tier: (name: string) => ({ PK: `TIER#${name}`, SK: 'TIER' }),
  /** The cost model (unit costs per metric, fixed costs per tier): one item, no listing. */
  costModel: () => ({ PK: 'COST', SK: 'MODEL' }),
  /** Listing index: every tenant under one key, every tier under another. */
  tenantListing: (tenantId: string) => ({ gsi1pk: 'TENANT', gsi1sk: tenantId }),
  tierListing: (name: string) => ({ gsi1pk: 'TIER', gsi1sk: name }),
  /**
   * A migration's change journal: one item per data item written while it runs. Its own
   * partition, so a data writer needs no access to tenant records.
   */
  migrationJournal: (migrationId: string) => `MIGRATION#${migrationId}`,
  journalEntry: (migrationId: string, keyHash: string) => ({
    PK: `MIGRATION#${migrationId}`,
    SK: `CHANGE#${keyHash}`,
  }),
} as const;
