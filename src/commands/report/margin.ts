import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { MARGIN_FORMATS, runMarginReport, type MarginFormat } from '../../lib/insight/run.js';
import type { MarginReport } from '../../lib/insight/margin.js';

export type ReportMarginResult = MarginReport & { readonly format: MarginFormat; readonly out?: string };

export default class ReportMargin extends SaasctlCommand {
  static override summary =
    'Per tenant for a month: revenue, cost to serve, margin and usage against the tier average; negative margins flagged with a recommended action.';
  static override description =
    'Revenue is the plan price (the tenant’s own, else its tier’s); cost to serve prices the month’s usage counters with the cost model (`saasctl cost show`) and adds the tier’s fixed cost. ' +
    'A tenant below zero gets the cheapest tier whose price covers its cost to serve there (an upgrade, or a promotion to a silo), or, when none does, throttling. ' +
    '--format html writes one self-contained page with charts (ECharts).';
  static override examples = [
    '<%= config.bin %> <%= command.id %> --month 2026-11',
    '<%= config.bin %> <%= command.id %> --month 2026-11 --format html --out margin-2026-11.html',
    '<%= config.bin %> <%= command.id %> --month 2026-11 --json',
  ];
  static override flags = {
    month: Flags.string({ description: 'The month, YYYY-MM (UTC); default the last complete month' }),
    format: Flags.string({ description: 'Output format', options: [...MARGIN_FORMATS], default: 'table' }),
    out: Flags.string({ description: 'Write the report to this file instead of stdout' }),
  };
  static override localServices = ['dynamodb'] as const;

  async run(): Promise<ReportMarginResult> {
    const { flags } = await this.parse(ReportMargin);
    const result = await runMarginReport(
      () => this.platform(flags),
      { month: flags.month, format: flags.format, out: flags.out },
      this.reporter,
    );
    if (!this.jsonEnabled()) {
      if (result.out)
        this.log(`Wrote the ${result.format} report of ${result.report.month} to ${result.out}.`);
      else process.stdout.write(result.rendered.endsWith('\n') ? result.rendered : `${result.rendered}\n`);
    }
    return { ...result.report, format: result.format, ...(result.out ? { out: result.out } : {}) };
  }
}
