import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import type { CostChangeResult } from '../../lib/insight/cost-model.js';
import { runCostSet } from '../../lib/insight/run.js';

export default class CostSet extends SaasctlCommand {
  static override summary = "Set one metric's unit cost or one tier's fixed monthly cost in the cost model.";
  static override description =
    'Plan prices are the tiers’ (and a tenant’s own, `saasctl tenant update --plan-price`). A unit cost is charged on the month’s total of a summed metric, ' +
    'and on the unit-months of a max metric (storage.gb: GB-months, the hourly values averaged over every hour of the month).';
  static override examples = [
    '<%= config.bin %> <%= command.id %> --metric api.call --per-1000 0.05',
    '<%= config.bin %> <%= command.id %> --metric storage.gb --per-unit 0.023',
    '<%= config.bin %> <%= command.id %> --tier enterprise --fixed-monthly 1200',
  ];
  static override flags = {
    metric: Flags.string({
      description: 'The metric whose unit cost to set (api.call, doc.processed, storage.gb)',
    }),
    'per-1000': Flags.string({ description: 'USD per 1,000 units of the metric' }),
    'per-unit': Flags.string({
      description: 'USD per unit (per unit-month for a max metric: storage.gb per GB-month)',
    }),
    tier: Flags.string({ description: 'The tier whose fixed monthly cost to set' }),
    'fixed-monthly': Flags.string({
      description: 'USD per month for the resources a tenant of the tier has to itself',
    }),
  };
  static override mutating = true;

  async run(): Promise<CostChangeResult> {
    const { flags } = await this.parse(CostSet);
    const result = await runCostSet(() => this.platform(flags), {
      metric: flags.metric,
      per1000: flags['per-1000'],
      perUnit: flags['per-unit'],
      tier: flags.tier,
      fixedMonthly: flags['fixed-monthly'],
    });
    const target = flags.metric ?? `tier ${flags.tier}`;
    this.log(
      result.changed
        ? `Set the cost of ${target} (cost model version ${result.model.version}).`
        : `The cost of ${target} already has this value.`,
    );
    return result;
  }
}
