import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { runExport, type ExportResult } from '../../lib/metering/billing.js';
import { EXPORT_FORMATS, formatExport } from '../../lib/metering/export.js';

export default class MeteringExport extends SaasctlCommand {
  static override summary =
    "A month's usage per tenant and metric, as CSV or NDJSON, for other billing engines.";
  static override description =
    'Columns: month, tenantId, metric, unit, aggregation, quantity (the sum of the hourly counters: GB-hours for storage.gb), hours (with a counter), marketplaceUnits (what AWS Marketplace accepted for them). Written to stdout; --json returns the rows instead.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> --month 2026-11 --format csv > usage-2026-11.csv',
    '<%= config.bin %> <%= command.id %> --month 2026-11 --format ndjson',
  ];
  static override flags = {
    month: Flags.string({ description: 'The month, YYYY-MM (UTC)', required: true }),
    format: Flags.string({ description: 'Output format', options: [...EXPORT_FORMATS], default: 'csv' }),
  };
  static override localServices = ['dynamodb'] as const;

  async run(): Promise<ExportResult> {
    const { flags } = await this.parse(MeteringExport);
    const result = await runExport(() => this.platform(flags), { month: flags.month, format: flags.format });
    if (!this.jsonEnabled()) process.stdout.write(formatExport(result.rows, result.format));
    return result;
  }
}
