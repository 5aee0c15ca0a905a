import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { runTenantUsage } from '../../lib/insight/run.js';
import type { TenantUsage } from '../../lib/insight/usage.js';
import { dayColumns, usageTotalColumns } from '../../lib/insight/views.js';

export default class TenantUsageCommand extends SaasctlCommand {
  static override summary = "A tenant's usage for a month, by metric and day, against its plan's limits.";
  static override description =
    'A summed metric (api.call) is its month’s total against the monthly allowance; a max metric (storage.gb) is its highest hourly value against the cap. Days show totals, or the day’s peak for a max metric.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme',
    '<%= config.bin %> <%= command.id %> acme --month 2026-11 --json',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    month: Flags.string({ description: 'The month, YYYY-MM (UTC); default the current month' }),
  };
  static override localServices = ['dynamodb'] as const;

  async run(): Promise<TenantUsage> {
    const { args, flags } = await this.parse(TenantUsageCommand);
    const result = await runTenantUsage(() => this.platform(flags), args.tenantId, flags.month);
    this.log(`${result.tenantId} (${result.tier}), ${result.month}`);
    await this.logTable(result.metrics, usageTotalColumns, 'No usage this month.');
    if (result.days.length > 0) {
      this.log('');
      await this.logTable(result.days, dayColumns(result.metrics.map((m) => m.metric)), '');
    }
    return result;
  }
}
