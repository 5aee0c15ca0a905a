import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { renderFields } from '../../lib/cli/output.js';
import { runSimulate, type SimulateResult } from '../../lib/metering/run-simulate.js';

export default class MeteringSimulate extends SaasctlCommand {
  static override summary =
    'Simulate a period of realistic usage: the raw lake and the counters as Firehose and the aggregator would have written them.';
  static override description =
    'A few heavy tenants and a long tail, a diurnal pattern, and the duplicates, late and malformed events the pipeline really sees. ' +
    'Uses the ACTIVE tenants and onboards pooled sim-NNN tenants when there are fewer than --tenants. ' +
    'Deterministic: the same --seed, period and tenants write the same objects and batches, so running it again changes nothing.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> --tenants 200 --events 20000 --days 30',
    '<%= config.bin %> <%= command.id %> --tenants 5 --events 2000 --from 2026-11-01T00:00:00Z --to 2026-11-03T00:00:00Z --late-rate 0.05 --seed 42 --json',
  ];
  static override flags = {
    tenants: Flags.integer({ description: 'How many tenants (1-10000)', required: true }),
    events: Flags.integer({ description: 'How many events (1-50000000)', required: true }),
    days: Flags.integer({ description: 'The days ending at the start of the current UTC hour (1-92)' }),
    from: Flags.string({ description: 'Start of the period, ISO 8601 UTC (inclusive)' }),
    to: Flags.string({ description: 'End of the period, ISO 8601 UTC (exclusive, not in the future)' }),
    'duplicate-rate': Flags.string({
      description: 'Share of events Firehose delivers twice (0-0.5; default 0.01)',
    }),
    'late-rate': Flags.string({ description: 'Share of events arriving 1-20 h late (0-0.5; default 0.02)' }),
    'malformed-rate': Flags.string({
      description: 'Share of records that are not valid events (0-0.5; default 0.005)',
    }),
    seed: Flags.integer({ description: 'Seed of the simulation (default 1)' }),
  };
  static override localServices = ['dynamodb', 's3', 'cognito'] as const;
  static override mutating = true;

  async run(): Promise<SimulateResult> {
    const { flags } = await this.parse(MeteringSimulate);
    const result = await runSimulate(
      () => this.platform(flags),
      {
        tenants: flags.tenants,
        events: flags.events,
        days: flags.days,
        from: flags.from,
        to: flags.to,
        duplicateRate: flags['duplicate-rate'],
        lateRate: flags['late-rate'],
        malformedRate: flags['malformed-rate'],
        seed: flags.seed,
      },
      this.reporter,
    );
    this.log(
      renderFields({
        period: `${result.period.from} to ${result.period.to}`,
        tenants: `${result.tenants.used} (${result.tenants.onboarded.length} onboarded)`,
        events: result.events,
        duplicates: result.duplicates,
        late: result.late,
        malformed: result.malformed,
        'lake objects': result.objects,
        batches: result.batches,
        'counters updated': result.countersApplied,
        'heaviest tenants': result.heavyTenants.map((t) => `${t.tenantId} (${t.events})`).join(', '),
        seed: result.seed,
      }),
    );
    return result;
  }
}
