import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { usageError } from '../../lib/cli/errors.js';
import { tenantFields } from '../../lib/cli/views.js';
import type { TransitionResult } from '../../lib/tenants/catalog.js';
import { updateTenant } from '../../lib/tenants/lifecycle.js';

export default class TenantUpdate extends SaasctlCommand {
  static override summary = "Change a tenant's display name or plan price; audited.";
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme --name "Acme Corporation"',
    '<%= config.bin %> <%= command.id %> acme --plan-price 1900 --reason "custom contract"',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    name: Flags.string({ description: 'New display name' }),
    'plan-price': Flags.integer({ description: 'Monthly plan price in USD' }),
    reason: Flags.string({ description: 'Why, for the audit trail' }),
  };
  static override mutating = true;

  async run(): Promise<TransitionResult> {
    const { args, flags } = await this.parse(TenantUpdate);
    if (flags.name === undefined && flags['plan-price'] === undefined) {
      throw usageError('NOTHING_TO_UPDATE', 'Nothing to update: pass --name or --plan-price.');
    }
    const result = await updateTenant(() => this.platform(flags), args.tenantId, {
      name: flags.name,
      planPrice: flags['plan-price'],
      reason: flags.reason,
    });
    this.log(result.changed ? `Updated ${args.tenantId}.` : `${args.tenantId} already has these values.`);
    this.log(tenantFields(result.tenant));
    return result;
  }
}
