import { Args } from '@oclif/core';

import { MigrationCommand, migrationFlags } from '../../lib/cli/migration-command.js';
import type { MigrationResult } from '../../lib/tenants/promote.js';

export default class TenantPromote extends MigrationCommand {
  static override summary =
    'Promote a pooled tenant to a silo tier with its data: provision, copy, verify, a short write freeze, cutover.';
  static override description =
    'Provisions the silo with the onboarding steps, copies every item of the tenant, verifies both copies ' +
    '(count and digest), refuses the tenant’s writes (MIGRATING) only to catch up what changed during the ' +
    'copy and verify again, then switches the catalog in one conditional write. The pooled copies are ' +
    'deleted after --grace-hours (re-run the command then) or at once with --cleanup-now. Asks before ' +
    'starting on a terminal (--yes for scripts). Killed at any step, re-running it carries on. Exit 5 when ' +
    'verify finds the copies differ: nothing is cut over and the tenant stays pooled and ACTIVE.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme --to enterprise --dry-run',
    '<%= config.bin %> <%= command.id %> acme --to enterprise --yes --json',
    '<%= config.bin %> <%= command.id %> acme --resume --yes',
    '<%= config.bin %> <%= command.id %> acme --to enterprise --cleanup-now --yes',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = migrationFlags('promote');

  async run(): Promise<MigrationResult> {
    const { args, flags } = await this.parse(TenantPromote);
    return this.migrate('promote', args.tenantId, flags);
  }
}
