import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { ExitCode } from '../../lib/cli/errors.js';
import { renderFields } from '../../lib/cli/output.js';
import type { DriftRow, ReconcileResult } from '../../lib/metering/reconcile.js';
import { runReconcile } from '../../lib/metering/run-reconcile.js';

export default class MeteringReconcile extends SaasctlCommand {
  static override summary =
    'Check the usage counters against the raw lake (the billing system of record); --fix repairs drift.';
  static override description =
    'Exit codes: 0 clean (or every drift repaired with --fix), 5 drift found (or left unrepaired). CI can gate on it.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> --month 2026-11 --json',
    '<%= config.bin %> <%= command.id %> --from 2026-11-27T00:00:00Z --to 2026-11-28T00:00:00Z --tenant acme --fix',
  ];
  static override flags = {
    month: Flags.string({ description: 'The month, YYYY-MM (UTC)' }),
    from: Flags.string({ description: 'Start of the period, ISO 8601 (inclusive)' }),
    to: Flags.string({ description: 'End of the period, ISO 8601 (exclusive)' }),
    tenant: Flags.string({ description: 'Only this tenant' }),
    fix: Flags.boolean({
      description: "Set each drifted counter to the lake's value (conditional write, audited)",
    }),
    'late-hours': Flags.integer({
      description: 'Hours past the period to read late arrivals from',
      default: 24,
      min: 0,
    }),
  };
  static override localServices = ['dynamodb', 's3'] as const;
  // It writes with --fix: the target is named either way.
  static override mutating = true;

  async run(): Promise<ReconcileResult> {
    const { flags } = await this.parse(MeteringReconcile);
    const result = await runReconcile(() => this.platform(flags), {
      month: flags.month,
      from: flags.from,
      to: flags.to,
      tenantId: flags.tenant,
      fix: flags.fix,
      lateArrivalHours: flags['late-hours'],
    });
    const unrepaired = result.drift.filter((row) => !row.fixed);
    this.log(
      renderFields({
        period: `${result.from} to ${result.to}`,
        'lake objects': result.objects,
        events: result.events,
        'duplicates dropped': result.duplicates,
        malformed: result.malformed,
        'counters compared': result.compared,
        'lake total': result.totals.lake,
        'counters total': result.totals.counters,
        'foreign keys': result.foreignKeys.length || undefined,
      }),
    );
    if (result.drift.length > 0) {
      this.log('');
      await this.logTable<DriftRow>(
        result.drift,
        [
          { header: 'TENANT', get: (r) => r.tenantId },
          { header: 'METRIC', get: (r) => r.metric },
          { header: 'HOUR', get: (r) => r.hour },
          { header: 'LAKE', get: (r) => r.lake },
          { header: 'COUNTER', get: (r) => r.counter },
          { header: 'DIFFERENCE', get: (r) => r.difference },
          { header: 'FIXED', get: (r) => (r.fixed === undefined ? '' : r.fixed ? 'yes' : 'no') },
        ],
        '',
      );
    }
    this.log(
      unrepaired.length === 0
        ? result.drift.length === 0
          ? 'Clean: the counters match the lake.'
          : `Repaired ${result.drift.length} counters.`
        : `Drift: ${unrepaired.length} counters differ from the lake.`,
    );
    if (unrepaired.length > 0) process.exitCode = ExitCode.drift;
    return result;
  }
}
