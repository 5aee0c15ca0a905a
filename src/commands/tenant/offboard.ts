import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { tenantFields } from '../../lib/cli/views.js';
import {
  offboardTenant,
  validateOffboardRequest,
  type OffboardResult,
} from '../../lib/tenants/offboarding.js';

export default class TenantOffboard extends SaasctlCommand {
  static override summary =
    'Offboard a tenant: its pooled items, silo table, key (scheduled for deletion), users and group; the record stays as a tombstone.';
  static override description =
    'Asks you to type the tenant id on a terminal (--yes for scripts). Idempotent and resumable: ' +
    're-run it after a failure. The raw usage lake is kept: it is the billing system of record.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> globex --reason "contract ended 2026-11-30" --yes',
    '<%= config.bin %> <%= command.id %> bigco --reason "customer request" --key-deletion-days 7',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    reason: Flags.string({ description: 'Why, for the audit trail', required: true }),
    'key-deletion-days': Flags.integer({
      description: "Days before KMS deletes a silo tenant's key (7-30)",
      default: 30,
    }),
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation' }),
  };
  static override localServices = ['dynamodb', 'cognito', 'kms'] as const;
  static override mutating = true;

  async run(): Promise<OffboardResult> {
    const { args, flags } = await this.parse(TenantOffboard);
    const request = validateOffboardRequest({
      tenantId: args.tenantId,
      reason: flags.reason,
      keyDeletionDays: flags['key-deletion-days'],
    });
    await this.confirmTyped(
      `Offboard tenant ${request.tenantId}: delete its data, key and users?`,
      request.tenantId,
      flags.yes,
    );
    const result = await offboardTenant(() => this.platform(flags), request, this.reporter, {
      failOnce: process.env.SAASCTL_TEST_FAIL_STEP,
    });
    this.log(result.changed ? `Offboarded ${request.tenantId}.` : `${request.tenantId} is already DELETED.`);
    this.log(tenantFields(result.tenant));
    return result;
  }
}
