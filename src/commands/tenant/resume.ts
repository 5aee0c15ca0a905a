import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import type { TransitionResult } from '../../lib/tenants/catalog.js';
import { changeStatus } from '../../lib/tenants/lifecycle.js';

export default class TenantResume extends SaasctlCommand {
  static override summary = 'Resume a SUSPENDED tenant to ACTIVE; audited with the reason.';
  static override examples = ['<%= config.bin %> <%= command.id %> acme --reason "invoice 1234 paid"'];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    reason: Flags.string({ description: 'Why, for the audit trail', required: true }),
  };
  static override mutating = true;

  async run(): Promise<TransitionResult> {
    const { args, flags } = await this.parse(TenantResume);
    const result = await changeStatus(() => this.platform(flags), 'resume', args.tenantId, flags.reason);
    this.log(result.changed ? `Resumed ${args.tenantId}.` : `${args.tenantId} is already ACTIVE.`);
    return result;
  }
}
