import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { emitUsage, type EmitOutcome } from '../../lib/metering/emit.js';

export default class MeteringEmit extends SaasctlCommand {
  static override summary = 'Emit one usage event to the usage stream, as application code does.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> --tenant acme --metric api.call --quantity 1',
    '<%= config.bin %> <%= command.id %> --tenant acme --metric storage.gb --quantity 12.5 --ts 2026-11-27T10:00:00Z',
  ];
  static override flags = {
    tenant: Flags.string({ description: 'Tenant id', required: true }),
    metric: Flags.string({ description: 'Metric (api.call, doc.processed, storage.gb)', required: true }),
    quantity: Flags.string({ description: 'Quantity (a number >= 0)', required: true }),
    ts: Flags.string({ description: 'When the usage happened (ISO 8601 UTC; default now)' }),
    'event-id': Flags.string({
      description: 'Event id (default: a new UUID); re-sending the same id is deduplicated',
    }),
  };
  static override localServices = ['dynamodb', 'kinesis'] as const;
  static override mutating = true;

  async run(): Promise<EmitOutcome> {
    const { flags } = await this.parse(MeteringEmit);
    const result = await emitUsage(() => this.platform(flags), {
      tenantId: flags.tenant,
      metric: flags.metric,
      // Parsed by the event rule, so "abc" is refused with the rule's message.
      quantity: flags.quantity.trim() === '' ? Number.NaN : Number(flags.quantity),
      ...(flags.ts ? { ts: flags.ts } : {}),
      ...(flags['event-id'] ? { eventId: flags['event-id'] } : {}),
    });
    this.log(`Emitted ${result.event.eventId} to ${result.stream}.`);
    return result;
  }
}
