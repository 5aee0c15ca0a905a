import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { auditColumns, tenantFields } from '../../lib/cli/views.js';
import { catalogs } from '../../lib/tenants/context.js';
import { assertTenantId, type AuditRecord, type Tenant } from '../../lib/tenants/model.js';

export interface TenantShowResult {
  readonly tenant: Tenant;
  readonly audit: AuditRecord[];
}

export default class TenantShow extends SaasctlCommand {
  static override summary = "Show a tenant's record and its recent audit trail.";
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme',
    '<%= config.bin %> <%= command.id %> acme --json',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    'audit-limit': Flags.integer({
      description: 'How many audit records to show',
      default: 10,
      min: 1,
      max: 1000,
    }),
  };

  async run(): Promise<TenantShowResult> {
    const { args, flags } = await this.parse(TenantShow);
    const tenantId = assertTenantId(args.tenantId);
    const { catalog } = catalogs(await this.platform(flags));
    const tenant = await catalog.require(tenantId);
    const audit = await catalog.audit(tenantId, flags['audit-limit']);
    this.log(tenantFields(tenant));
    this.log('');
    await this.logTable(audit, auditColumns, '(no audit records)');
    return { tenant, audit };
  }
}
