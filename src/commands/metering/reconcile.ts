import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { ExitCode } from '../../lib/cli/errors.js';
import { renderFields } from '../../lib/cli/output.js';
import type { LakeCell } from '../../lib/metering/lake-aggregate.js';
import type { DriftRow, ReconcileResult } from '../../lib/metering/reconcile.js';
import { RECONCILE_ENGINES, runReconcile } from '../../lib/metering/run-reconcile.js';

export default class MeteringReconcile extends SaasctlCommand {
  static override summary =
    'Check the usage counters against the raw lake (the billing system of record); --fix repairs drift.';
  static override description = [
    'The stream engine reads the lake itself (parallel downloads, every core, memory bounded by the late window);',
    'the athena engine runs the same aggregation as SQL on Athena over the Glue table infra defines (aws target).',
    'A full run that leaves no drift marks its hours reconciled; usage that arrives after that is listed apart,',
    'for billing to carry forward.',
    '',
    'Exit codes: 0 clean (or every drift repaired with --fix), 5 drift found (or left unrepaired). CI can gate on it.',
  ].join('\n');
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
    engine: Flags.string({
      description: 'How to aggregate the lake',
      options: [...RECONCILE_ENGINES],
      default: 'stream',
    }),
    concurrency: Flags.integer({
      description: 'Stream engine: lake objects downloaded and parsed at once (default 16)',
      min: 1,
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
      engine: flags.engine as (typeof RECONCILE_ENGINES)[number],
      concurrency: flags.concurrency,
      reporter: this.reporter,
    });
    const unrepaired = result.drift.filter((row) => !row.fixed);
    this.log(
      renderFields({
        period: `${result.from} to ${result.to}`,
        engine: result.engine,
        'lake objects': result.objects,
        'lake bytes': result.bytes,
        events: result.events,
        'duplicates dropped': result.duplicates,
        malformed: result.malformed,
        'counters compared': result.compared,
        'lake total': shown(result.totals.lake),
        'counters total': shown(result.totals.counters),
        'foreign keys': result.foreignKeys.length || undefined,
        'hours marked reconciled': result.hoursMarked || undefined,
        elapsed: `${(result.elapsedMs / 1000).toFixed(1)} s`,
      }),
    );
    if (result.arrivedAfterReconcile.length > 0) {
      this.log('');
      this.log('Arrived after their hour was reconciled (carry forward in billing):');
      await this.logTable<LakeCell>(
        result.arrivedAfterReconcile,
        [
          { header: 'TENANT', get: (r) => r.tenantId },
          { header: 'METRIC', get: (r) => r.metric },
          { header: 'HOUR', get: (r) => r.hour },
          { header: 'EVENTS', get: (r) => r.events },
          { header: 'QUANTITY', get: (r) => shown(r.quantity) },
        ],
        '',
      );
    }
    if (result.drift.length > 0) {
      this.log('');
      await this.logTable<DriftRow>(
        result.drift,
        [
          { header: 'TENANT', get: (r) => r.tenantId },
          { header: 'METRIC', get: (r) => r.metric },
          { header: 'HOUR', get: (r) => r.hour },
          { header: 'LAKE', get: (r) => shown(r.lake) },
          { header: 'COUNTER', get: (r) => shown(r.counter) },
          { header: 'DIFFERENCE', get: (r) => shown(r.difference) },
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

/** A quantity for people: sums of fractional samples carry float noise past the 9th decimal. */
function shown(quantity: number): number {
  return Number(quantity.toFixed(9));
}
