import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { runTenantLimits } from '../../lib/insight/run.js';
import type { TenantLimits } from '../../lib/insight/usage.js';
import { limitColumns } from '../../lib/insight/views.js';

export default class TenantLimitsCommand extends SaasctlCommand {
  static override summary =
    "A tenant's usage now (this hour, today, this month) against its plan's limits: whether to throttle it.";
  static override description =
    'Allowances of a summed metric are the monthly limit and its shares per day and per hour; advice is throttle once the month to date is over the limit, ' +
    'watch when the pace so far projects past it or today is over twice the daily allowance. A max metric (storage.gb) is held against its cap.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme',
    '<%= config.bin %> <%= command.id %> acme --at 2026-11-27T10:30:00Z --json',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    at: Flags.string({ description: 'Judge as of this ISO 8601 UTC time instead of now' }),
  };
  static override localServices = ['dynamodb'] as const;

  async run(): Promise<TenantLimits> {
    const { args, flags } = await this.parse(TenantLimitsCommand);
    const result = await runTenantLimits(() => this.platform(flags), args.tenantId, flags.at);
    this.log(
      `${result.tenantId} (${result.tier}) at ${result.at}: ${result.throttle ? 'THROTTLE' : 'no throttling needed'}`,
    );
    await this.logTable(result.metrics, limitColumns, 'No usage and no plan limits.');
    return result;
  }
}
