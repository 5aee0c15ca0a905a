import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { renderFields } from '../../lib/cli/output.js';
import { runLocalPump } from '../../lib/metering/local-pump.js';
import type { PumpResult } from '../../lib/metering/pump.js';

export default class MeteringPump extends SaasctlCommand {
  static override summary =
    'Run one pass of the local pipeline: stream records to the raw lake, valid events to the counters, malformed ones to quarantine.';
  static override description =
    'Plays Firehose and the aggregator Lambda on the local stack. Crash-safe: a batch is written ahead, and an interrupted one is redone exactly, never counted twice.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];
  static override localServices = ['dynamodb', 's3', 'kinesis'] as const;
  static override mutating = true;

  async run(): Promise<PumpResult> {
    const { flags } = await this.parse(MeteringPump);
    const result = await runLocalPump(() => this.platform(flags));
    this.log(
      renderFields({
        batches: result.batches,
        records: result.records,
        'valid events': result.events,
        'malformed (quarantined)': result.malformed,
        'lake objects': result.lakeObjects,
        'counters updated': result.countersApplied,
        'batches already applied': result.duplicateBatches,
      }),
    );
    return result;
  }
}
