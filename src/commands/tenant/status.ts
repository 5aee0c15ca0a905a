import { Args } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { renderFields } from '../../lib/cli/output.js';
import type { WorkflowProgress } from '../../lib/tenants/catalog.js';
import { catalogs } from '../../lib/tenants/context.js';
import { assertTenantId, type TenantStatus } from '../../lib/tenants/model.js';

export interface TenantStatusResult {
  readonly tenantId: string;
  readonly status: TenantStatus;
  readonly workflow?: WorkflowProgress;
}

export default class TenantStatusCommand extends SaasctlCommand {
  static override summary =
    "Where a tenant's onboarding or offboarding workflow stands, with the failed step and its error.";
  static override examples = [
    '<%= config.bin %> <%= command.id %> bigco',
    '<%= config.bin %> <%= command.id %> bigco --json',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };

  async run(): Promise<TenantStatusResult> {
    const { args, flags } = await this.parse(TenantStatusCommand);
    const tenantId = assertTenantId(args.tenantId);
    const { catalog } = catalogs(await this.platform(flags));
    const tenant = await catalog.require(tenantId);
    const workflow = await catalog.workflow(tenantId);
    this.log(
      renderFields({
        tenant: tenantId,
        status: tenant.status,
        workflow: workflow ? `${workflow.workflow} ${workflow.status}` : '(none recorded)',
        step: workflow?.status === 'SUCCEEDED' ? undefined : workflow?.step,
        error: workflow?.error ? `${workflow.error.name}: ${workflow.error.message}` : undefined,
        'completed steps': workflow?.completedSteps.join(', '),
        updated: workflow?.updatedAt,
      }),
    );
    if (workflow?.status === 'FAILED')
      this.log('\nRe-run the same `saasctl tenant onboard` to resume from the failed step.');
    return { tenantId, status: tenant.status, ...(workflow ? { workflow } : {}) };
  }
}
