import { Flags, type Interfaces } from '@oclif/core';

import {
  CRASH_POINTS,
  DEFAULT_GRACE_HOURS,
  migrateTenant,
  validateMigrationRequest,
  type CrashPoint,
  type MigrationResult,
} from '../tenants/promote.js';
import type { MigrationDirection } from '../tenants/migration-state.js';
import { SaasctlCommand } from './base-command.js';
import { usageError } from './errors.js';
import { renderFields } from './output.js';

/** The flags `tenant promote` and `tenant demote` share. */
export function migrationFlags(direction: MigrationDirection) {
  return {
    to: Flags.string({
      description:
        direction === 'promote'
          ? 'The silo tier to promote to (isolation silo or silo-account)'
          : 'The pool tier to demote to (isolation pool or pool-dedicated-table)',
    }),
    'dry-run': Flags.boolean({
      description: 'Show the plan (items, bytes, target, freeze window); change nothing',
    }),
    resume: Flags.boolean({ description: `Carry on the ${direction} in flight (the default when one is)` }),
    'cleanup-now': Flags.boolean({
      description: 'Delete the old copy right after cutover, without a grace period',
    }),
    'grace-hours': Flags.integer({
      description: 'Hours the old copy is kept after cutover (0-720)',
      default: DEFAULT_GRACE_HOURS,
    }),
    reason: Flags.string({ description: 'Why, for the audit trail' }),
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation (scripts)' }),
  };
}

/**
 * `SAASCTL_TEST_CRASH_AT=<point>`: a test switch that kills the process (SIGKILL, nothing
 * flushed, like a lost machine) right after the named step's checkpoint.
 */
export function crashHook(value: string | undefined): ((point: CrashPoint) => void) | undefined {
  if (!value) return undefined;
  if (!(CRASH_POINTS as readonly string[]).includes(value)) {
    throw usageError(
      'INVALID_CRASH_POINT',
      `SAASCTL_TEST_CRASH_AT=${value}: a crash point is one of ${CRASH_POINTS.join(', ')}.`,
    );
  }
  return (point) => {
    if (point === value) process.kill(process.pid, 'SIGKILL');
  };
}

type MigrationFlags = Interfaces.InferredFlags<(typeof SaasctlCommand)['baseFlags']> & {
  to?: string;
  'dry-run': boolean;
  resume: boolean;
  'cleanup-now': boolean;
  'grace-hours': number;
  reason?: string;
  yes: boolean;
};

/** The shared body of `tenant promote` and `tenant demote`: parse, one lib call, render. */
export abstract class MigrationCommand extends SaasctlCommand {
  static override localServices = ['dynamodb', 'kms', 'organizations'] as const;
  static override mutating = true;

  protected async migrate(
    direction: MigrationDirection,
    tenantId: string,
    flags: MigrationFlags,
  ): Promise<MigrationResult> {
    const input = {
      tenantId,
      direction,
      toTier: flags.to,
      resume: flags.resume,
      dryRun: flags['dry-run'],
      cleanupNow: flags['cleanup-now'],
      graceHours: flags['grace-hours'],
      reason: flags.reason,
    };
    validateMigrationRequest(input);
    const checkpoint = crashHook(process.env.SAASCTL_TEST_CRASH_AT);
    const result = await migrateTenant(() => this.platform(flags), input, this.reporter, {
      confirm: (question) => this.confirm(question, flags.yes),
      ...(checkpoint ? { checkpoint } : {}),
    });
    this.log(renderMigration(result));
    return result;
  }
}

function seconds(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : `${(ms / 1000).toFixed(1)} s`;
}

/** What a human reads after promote or demote. */
export function renderMigration(result: MigrationResult): string {
  const { plan, counts, timings, digests, cleanup, tenant } = result;
  const verb = result.direction === 'promote' ? 'Promoted' : 'Demoted';
  const headline: Record<MigrationResult['outcome'], string> = {
    planned: `Plan only (--dry-run): nothing was changed.`,
    'in-flight': `A ${result.direction} of ${result.tenantId} is in flight (${result.phase}); re-run with --yes to carry it on.`,
    migrated: `${verb} ${result.tenantId} to ${tenant.tier} (${tenant.isolation}).`,
    'already-there': `${result.tenantId} is already ${tenant.tier} (${tenant.isolation}): nothing to do.`,
    'cleanup-scheduled': `${result.tenantId} is ${tenant.tier} (${tenant.isolation}); the old copy is deleted after ${cleanup?.after ?? 'its grace period'}.`,
    'cleaned-up': `Deleted the old copy of ${result.tenantId}'s data.`,
  };
  const lines = [headline[result.outcome]];
  if (plan) {
    lines.push(
      renderFields({
        from: `${plan.from.tier} (${plan.from.isolation}) ${plan.from.table}`,
        to: `${plan.to.tier} (${plan.to.isolation}) ${plan.to.table}`,
        items: `${plan.items.toLocaleString('en-US')} in ${plan.partitions} partitions, ${plan.bytes.toLocaleString('en-US')} bytes`,
        provision:
          plan.provision.length > 0 ? plan.provision.join(', ') : 'nothing (the pooled table exists)',
        'expected copy': `${plan.estimates.copySeconds} s`,
        'expected freeze': `${plan.estimates.freezeSeconds} s`,
        cleanup: `${plan.cleanup.deletes}, ${plan.cleanup.graceHours} h after cutover`,
      }),
    );
  }
  if (counts && result.outcome !== 'planned') {
    lines.push(
      renderFields({
        migration: result.migrationId,
        phase: result.resumedFrom ? `${result.phase} (resumed from ${result.resumedFrom})` : result.phase,
        copied: counts.copied,
        'caught up': counts.replayed,
        'verified items':
          counts.sourceItems === undefined ? undefined : `${counts.sourceItems} = ${counts.targetItems}`,
        digest: digests ? digests.source : undefined,
        'copy time': seconds(timings?.copyMs),
        'copy rate':
          timings?.copyItemsPerSecond === undefined ? undefined : `${timings.copyItemsPerSecond} items/s`,
        'write freeze': seconds(timings?.freezeMs),
        'total (this run)': seconds(timings?.totalMs),
        cleanup: cleanup
          ? cleanup.status === 'done'
            ? `done${counts.cleanedUp === undefined ? '' : ` (${counts.cleanedUp} items)`}`
            : `scheduled after ${cleanup.after} (re-run, or --cleanup-now)`
          : undefined,
      }),
    );
  }
  return lines.join('\n');
}
