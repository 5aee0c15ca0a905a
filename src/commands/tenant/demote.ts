import { Args } from '@oclif/core';

import { MigrationCommand, migrationFlags } from '../../lib/cli/migration-command.js';
import type { MigrationResult } from '../../lib/tenants/promote.js';

export default class TenantDemote extends MigrationCommand {
  static override summary =
    'Demote a silo tenant to a pool tier with its data: copy, verify, a short write freeze, cutover.';
  static override description =
    'The reverse of promote: copies the silo table into the pooled table, verifies both copies, refuses ' +
    'the tenant’s writes (MIGRATING) only to catch up and verify again, then switches the catalog in one ' +
    'conditional write. After --grace-hours (re-run the command then) or with --cleanup-now, the silo ' +
    'table is deleted and its KMS key scheduled for deletion. Asks before starting on a terminal (--yes ' +
    'for scripts); resumable; exit 5 when verify finds the copies differ.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> bigco --to pro --dry-run',
    '<%= config.bin %> <%= command.id %> bigco --to pro --yes --json',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = migrationFlags('demote');

  async run(): Promise<MigrationResult> {
    const { args, flags } = await this.parse(TenantDemote);
    return this.migrate('demote', args.tenantId, flags);
  }
}
