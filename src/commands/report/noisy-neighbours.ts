import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { DEFAULT_NOISY_FACTOR, type NoisyReport } from '../../lib/insight/noisy.js';
import { runNoisyNeighbours } from '../../lib/insight/run.js';
import { noisyColumns } from '../../lib/insight/views.js';

export default class ReportNoisyNeighbours extends SaasctlCommand {
  static override summary =
    "Pooled tenants whose share of a metric in an hour is far out of proportion to their tier's.";
  static override description =
    'A tenant is noisy when its share of the pool’s usage of a summed metric in the hour is more than --factor times its expected share ' +
    '(its plan limit over the sum of every pooled tenant’s plan limit) and it used more than its own plan’s hourly pace (limit / hours in the month).';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --hour 2026-11-27T10 --factor 5 --json',
  ];
  static override flags = {
    hour: Flags.string({
      description: 'The hour, YYYY-MM-DDTHH or ISO 8601 UTC; default the last complete hour',
    }),
    factor: Flags.string({
      description: `How many times its expected share a tenant may use before it is noisy (default ${DEFAULT_NOISY_FACTOR})`,
    }),
  };
  static override localServices = ['dynamodb'] as const;

  async run(): Promise<NoisyReport> {
    const { flags } = await this.parse(ReportNoisyNeighbours);
    const report = await runNoisyNeighbours(() => this.platform(flags), {
      hour: flags.hour,
      factor: flags.factor,
    });
    for (const note of report.notes) this.reporter.warn(note);
    this.log(
      `${report.hour}: ${report.metrics.map((m) => `${m.metric} ${m.total.toLocaleString('en-US')} from ${m.activeTenants} of ${m.poolTenants} pooled tenants`).join('; ') || 'no pooled usage'}.`,
    );
    await this.logTable(report.noisy, noisyColumns, `No noisy neighbours (factor ${report.factor}).`);
    return report;
  }
}
