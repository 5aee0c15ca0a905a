import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import type { TransitionResult } from '../../lib/tenants/catalog.js';
import { changeStatus } from '../../lib/tenants/lifecycle.js';

export default class TenantSuspend extends SaasctlCommand {
  static override summary = 'Suspend an ACTIVE tenant (its users get no tokens); audited with the reason.';
  static override examples = ['<%= config.bin %> <%= command.id %> acme --reason "invoice 1234 unpaid"'];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    reason: Flags.string({ description: 'Why, for the audit trail', required: true }),
  };
  static override mutating = true;

  async run(): Promise<TransitionResult> {
    const { args, flags } = await this.parse(TenantSuspend);
    const result = await changeStatus(() => this.platform(flags), 'suspend', args.tenantId, flags.reason);
    this.log(result.changed ? `Suspended ${args.tenantId}.` : `${args.tenantId} is already SUSPENDED.`);
    return result;
  }
}
