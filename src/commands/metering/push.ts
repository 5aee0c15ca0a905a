import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { ExitCode } from '../../lib/cli/errors.js';
import { renderFields } from '../../lib/cli/output.js';
import { runPush } from '../../lib/metering/billing.js';
import { isPartial, type PushedRecord, type PushResult } from '../../lib/metering/push.js';

export default class MeteringPush extends SaasctlCommand {
  static override summary =
    'Bill the closed hours of usage to AWS Marketplace (BatchMeterUsage), exactly once, through the ledger.';
  static override description = [
    "Each subscribed tenant's counters are mapped to the Marketplace dimensions of its tier, one record per",
    "tenant, dimension and hour (the hour's start as Timestamp). Ledger first: every record is written PENDING,",
    'SENT just before its call and ACCEPTED, DUPLICATE or REJECTED after it, so running it again after a crash',
    'sends what was left exactly as it was, and never bills a unit twice. Usage that grew after its hour was',
    'pushed, or is older than the 6-hour window AWS accepts, is billed in the next open hour.',
    '',
    'Without --hour or --since it looks back 24 hours from the previous push.',
    '',
    'Exit codes: 0 every record accepted; 6 some were refused (REJECTED, DUPLICATE), are still in flight after',
    'retries, or were left SENT outside the window (see the table); 4 another push holds the ledger.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --hour 2026-11-27T10:00:00Z --dry-run',
    '<%= config.bin %> <%= command.id %> --since 2026-11-26T00:00:00Z',
  ];
  static override flags = {
    hour: Flags.string({ description: 'Push this closed hour only (an ISO 8601 time in it)' }),
    since: Flags.string({ description: 'Push every closed hour from this ISO 8601 time on' }),
    'dry-run': Flags.boolean({ description: 'Print exactly what would be sent; write and send nothing' }),
    concurrency: Flags.integer({
      description: 'Batches in flight at once (calls stay within 10 per second)',
      default: 4,
      min: 1,
      max: 32,
    }),
  };
  static override localServices = ['dynamodb', 'marketplace'] as const;
  static override mutating = true;

  async run(): Promise<PushResult> {
    const { flags } = await this.parse(MeteringPush);
    const result = await runPush(() => this.platform(flags), {
      hour: flags.hour,
      since: flags.since,
      dryRun: flags['dry-run'],
      concurrency: flags.concurrency,
      reporter: this.reporter,
      crashAt: process.env.SAASCTL_TEST_CRASH_AT,
    });
    const { totals } = result;
    this.log(
      renderFields({
        period: `${result.period.from} to ${result.period.to}`,
        window: result.window ? `${result.window.from} to ${result.window.to}` : 'none',
        'subscribed tenants': result.tenants.subscribed,
        records: totals.records,
        calls: result.dryRun ? `${result.requests?.length ?? 0} (dry run: none made)` : result.calls,
        accepted: result.dryRun ? undefined : `${totals.accepted} (${totals.unitsAccepted} units)`,
        rejected: totals.rejected || undefined,
        duplicate: totals.duplicate || undefined,
        'still in flight': totals.inFlight || undefined,
        'carried forward': result.carried.length ? `${result.carried.length} counters` : undefined,
        deferred: result.deferred.length
          ? `${result.deferred.length} counters (no open hour yet)`
          : undefined,
        'over-billed': result.overBilled.length ? `${result.overBilled.length} counters` : undefined,
        throttled: result.throttled || undefined,
        unprocessed: result.unprocessed || undefined,
      }),
    );
    const shown = result.dryRun
      ? result.records
      : [...result.records.filter((r) => r.state !== 'ACCEPTED'), ...result.unresolved];
    if (shown.length > 0) {
      this.log('');
      await this.logTable<PushedRecord>(
        shown,
        [
          { header: 'TENANT', get: (r) => r.tenantId },
          {
            header: 'CUSTOMER',
            get: (r) => r.customer.customerIdentifier ?? r.customer.customerAwsAccountId,
          },
          { header: 'DIMENSION', get: (r) => r.dimension },
          { header: 'TIMESTAMP', get: (r) => r.timestamp },
          { header: 'QUANTITY', get: (r) => r.quantity },
          { header: 'STATE', get: (r) => (r.resent ? `${r.state} (resent)` : r.state) },
          { header: 'REASON', get: (r) => r.reason },
        ],
        '',
      );
    }
    if (!result.dryRun && isPartial(result)) process.exitCode = ExitCode.partial;
    return result;
  }
}
