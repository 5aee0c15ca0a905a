import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { tenantColumns } from '../../lib/cli/views.js';
import { catalogs } from '../../lib/tenants/context.js';
import { TENANT_STATUSES, type Tenant } from '../../lib/tenants/model.js';

export default class TenantList extends SaasctlCommand {
  static override summary = 'List tenants, optionally by tier and status.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --tier pro --status ACTIVE --json',
  ];
  static override flags = {
    tier: Flags.string({ description: 'Only tenants on this tier' }),
    status: Flags.string({ description: 'Only tenants in this status', options: [...TENANT_STATUSES] }),
  };

  async run(): Promise<Tenant[]> {
    const { flags } = await this.parse(TenantList);
    const { catalog } = catalogs(await this.platform(flags));
    const tenants = await catalog.list({
      tier: flags.tier,
      status: flags.status as Tenant['status'] | undefined,
    });
    await this.logTable(tenants, tenantColumns, 'No tenants.');
    return tenants;
  }
}
