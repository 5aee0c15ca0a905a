import { conflict, usageError } from '../cli/errors.js';
import { appliesTo } from '../workflow/definition.js';
import { onboardingWorkflow } from '../workflow/onboarding.js';
import { parallelScan, freshCursors, type TableRef } from './migration-copy.js';
import { itemSize } from './migration-digest.js';
import type { MigrationDirection, Placement } from './migration-state.js';
import type { Tenant } from './model.js';
import { tenantTableName } from './silo-table.js';
import { isPooled, type Tier } from './tiers.js';

/** The onboarding steps that build a silo's resources: promote runs exactly these. */
export const PROVISION_STEPS: readonly string[] = [
  'CreateTenantAccount',
  'CreateTenantKey',
  'CreateTenantTable',
];

/** Items per second the plan assumes for its estimate (bench/README.md has measured figures). */
export const ESTIMATED_COPY_RATE: Readonly<Record<'local' | 'aws', number>> = { local: 5000, aws: 2000 };

export interface MigrationPlan {
  readonly tenantId: string;
  readonly direction: MigrationDirection;
  readonly from: Placement;
  readonly to: Placement;
  /** The tenant's items in the source now, their size as DynamoDB counts it, their partitions. */
  readonly items: number;
  readonly bytes: number;
  readonly partitions: number;
  /** Onboarding steps that provision the target; each finds what exists before it creates. */
  readonly provision: readonly string[];
  readonly segments: number;
  readonly estimates: {
    readonly copySeconds: number;
    /** How long the tenant's writes are refused: the settle wait, catch-up, verify, cutover. */
    readonly freezeSeconds: number;
    readonly basis: string;
  };
  readonly cleanup: { readonly deletes: string; readonly graceHours: number };
}

export interface PlacementContext {
  readonly stage: string;
  /** The control plane's region, where the pooled table lives. */
  readonly region: string;
  readonly pooledTable: string;
}

function isSilo(isolation: Tier['isolation']): boolean {
  return !isPooled(isolation);
}

/**
 * Where the tenant's data is and where it goes, after checking that this move makes sense:
 * promote takes an ACTIVE pooled tenant to a silo tier, demote an ACTIVE silo tenant to a pool
 * tier. A wrong tier is bad input (exit 2); a tenant in the wrong state is a conflict (exit 4).
 */
export function placements(
  tenant: Tenant,
  target: Tier,
  direction: MigrationDirection,
  context: PlacementContext,
): { from: Placement; to: Placement } {
  if (direction === 'promote' && !isSilo(target.isolation)) {
    throw usageError(
      'INVALID_TARGET_TIER',
      `Cannot promote to "${target.name}": promote moves a tenant to a silo tier (isolation silo or silo-account), and ${target.name} is ${target.isolation}.`,
      ['See the tiers with `saasctl tier list`; to move to a pool tier, use `saasctl tenant demote`.'],
    );
  }
  if (direction === 'demote' && !isPooled(target.isolation)) {
    throw usageError(
      'INVALID_TARGET_TIER',
      `Cannot demote to "${target.name}": demote moves a tenant to a pool tier (isolation pool or pool-dedicated-table), and ${target.name} is ${target.isolation}.`,
      ['See the tiers with `saasctl tier list`; to move to a silo tier, use `saasctl tenant promote`.'],
    );
  }
  if (direction === 'promote' && !isPooled(tenant.isolation)) {
    throw conflict(
      'TENANT_NOT_POOLED',
      `Tenant "${tenant.tenantId}" is already siloed (tier ${tenant.tier}, ${tenant.isolation}): only a pooled tenant can be promoted.`,
      ['Demote it to a pool tier first if it must change silo kind.'],
    );
  }
  if (direction === 'demote' && isPooled(tenant.isolation)) {
    throw conflict(
      'TENANT_NOT_SILOED',
      `Tenant "${tenant.tenantId}" is pooled (tier ${tenant.tier}): only a silo tenant can be demoted.`,
    );
  }
  if (tenant.status !== 'ACTIVE') {
    throw conflict(
      'TENANT_NOT_ACTIVE',
      `Tenant "${tenant.tenantId}" is ${tenant.status}: a ${direction} starts from an ACTIVE tenant.`,
      tenant.status === 'SUSPENDED' ? ['Resume it first with `saasctl tenant resume`.'] : [],
    );
  }
  const pooled = (tier: string, isolation: Tier['isolation']): Placement => ({
    tier,
    isolation,
    table: context.pooledTable,
    region: context.region,
  });
  if (direction === 'promote') {
    return {
      from: pooled(tenant.tier, tenant.isolation),
      to: {
        tier: target.name,
        isolation: target.isolation,
        table: tenantTableName(context.stage, tenant.tenantId),
        region: tenant.region,
        ...(tenant.accountId ? { accountId: tenant.accountId } : {}),
      },
    };
  }
  if (!tenant.dataTable) {
    throw conflict('TENANT_TABLE_MISSING', `Silo tenant "${tenant.tenantId}" has no data table recorded.`);
  }
  return {
    from: {
      tier: tenant.tier,
      isolation: tenant.isolation,
      table: tenant.dataTable,
      region: tenant.region,
      ...(tenant.accountId ? { accountId: tenant.accountId } : {}),
    },
    to: pooled(target.name, target.isolation),
  };
}

/** What the source holds now: items, bytes (DynamoDB's item size) and distinct partitions. */
export async function countSource(
  source: TableRef,
  tenantId: string,
  segments: number,
): Promise<{ items: number; bytes: number; partitions: number }> {
  let items = 0;
  let bytes = 0;
  const partitions = new Set<string>();
  await parallelScan(source, tenantId, freshCursors(segments), async (_segment, page) => {
    items += page.length;
    for (const item of page) {
      bytes += itemSize(item);
      if (item.PK?.S) partitions.add(item.PK.S);
    }
  });
  return { items, bytes, partitions: partitions.size };
}

export interface PlanInput {
  readonly tenantId: string;
  readonly direction: MigrationDirection;
  readonly from: Placement;
  readonly to: Placement;
  readonly counts: { readonly items: number; readonly bytes: number; readonly partitions: number };
  readonly segments: number;
  readonly target: 'local' | 'aws';
  readonly settleMs: number;
  readonly graceHours: number;
}

/** The plan `--dry-run` shows and a run records: what moves, where, what it costs in time. */
export function buildPlan(input: PlanInput): MigrationPlan {
  const rate = ESTIMATED_COPY_RATE[input.target];
  const provision =
    input.direction === 'promote'
      ? onboardingWorkflow.steps
          .filter((s) => PROVISION_STEPS.includes(s.name) && appliesTo(s, input.to.isolation))
          .map((s) => s.name)
      : [];
  return {
    tenantId: input.tenantId,
    direction: input.direction,
    from: input.from,
    to: input.to,
    ...input.counts,
    provision,
    segments: input.segments,
    estimates: {
      copySeconds: round1(input.counts.items / rate),
      freezeSeconds: round1(input.settleMs / 1000 + 0.5),
      basis: `copy at ${rate} items/s; the freeze is a ${input.settleMs} ms settle wait for in-flight writes, then the catch-up of items written during the copy (about 2 ms each), verify and one catalog write`,
    },
    cleanup: {
      deletes:
        input.direction === 'promote'
          ? `the pooled copies in ${input.from.table}`
          : `table ${input.from.table}, and the tenant's KMS key is scheduled for deletion`,
      graceHours: input.graceHours,
    },
  };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
