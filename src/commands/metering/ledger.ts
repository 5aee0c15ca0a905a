import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { renderFields } from '../../lib/cli/output.js';
import { runLedger, type LedgerReport } from '../../lib/metering/billing.js';
import { RECORD_STATES, type LedgerRecord } from '../../lib/metering/ledger.js';

export default class MeteringLedger extends SaasctlCommand {
  static override summary =
    'The Marketplace ledger: every usage record pushed (or being pushed), with totals.';
  static override description =
    'One record per tenant, dimension and hour, in its state (PENDING, SENT, ACCEPTED, DUPLICATE, REJECTED), with the counters it covers: a delta carried into a later hour shows there, next to the record of its own hour.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --tenant acme --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z --json',
  ];
  static override flags = {
    tenant: Flags.string({ description: 'Only this tenant' }),
    from: Flags.string({
      description: 'Records for hours from this ISO 8601 time (default: start of this month)',
    }),
    to: Flags.string({ description: 'Records for hours before this ISO 8601 time (default: now)' }),
  };
  static override localServices = ['dynamodb'] as const;

  async run(): Promise<LedgerReport> {
    const { flags } = await this.parse(MeteringLedger);
    const report = await runLedger(() => this.platform(flags), {
      tenantId: flags.tenant,
      from: flags.from,
      to: flags.to,
    });
    await this.logTable<LedgerRecord>(
      report.records,
      [
        { header: 'TENANT', get: (r) => r.tenantId },
        { header: 'DIMENSION', get: (r) => r.dimension },
        { header: 'HOUR', get: (r) => r.hour },
        { header: 'QUANTITY', get: (r) => r.quantity },
        { header: 'STATE', get: (r) => r.state },
        {
          header: 'COVERS',
          get: (r) =>
            Object.entries(r.covers)
              .map(([cell, units]) => `${cell} ${units}`)
              .join(', '),
        },
        { header: 'REASON', get: (r) => r.reason },
      ],
      `No ledger records for ${report.from} to ${report.to}.`,
    );
    this.log('');
    this.log(
      renderFields({
        period: `${report.from} to ${report.to}`,
        records: report.totals.records,
        units: report.totals.units,
        ...Object.fromEntries(
          RECORD_STATES.filter((s) => report.totals.byState[s].records > 0).map((s) => [
            s.toLowerCase(),
            `${report.totals.byState[s].records} records, ${report.totals.byState[s].units} units`,
          ]),
        ),
      }),
    );
    return report;
  }
}
