import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { runCostShow, type CostShowResult } from '../../lib/insight/run.js';
import { usd } from '../../lib/insight/views.js';

export default class CostShow extends SaasctlCommand {
  static override summary = 'The cost model: unit cost per metric, fixed monthly cost and price per tier.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  async run(): Promise<CostShowResult> {
    const { flags } = await this.parse(CostShow);
    const result = await runCostShow(() => this.platform(flags), this.reporter);
    await this.logTable(
      result.metrics,
      [
        { header: 'METRIC', get: (m) => m.metric },
        { header: 'COST', get: (m) => `$${m.usd}` },
        { header: 'PER', get: (m) => m.basis },
      ],
      'No unit costs.',
    );
    await this.logTable(
      result.tiers,
      [
        { header: 'TIER', get: (t) => t.tier },
        { header: 'ISOLATION', get: (t) => t.isolation },
        { header: 'PRICE/MONTH', get: (t) => usd(t.monthlyPrice) },
        { header: 'FIXED COST/MONTH', get: (t) => usd(t.fixedMonthlyUsd) },
      ],
      'No tiers: seed the defaults with `saasctl tier seed`.',
    );
    this.log(
      result.stored
        ? `Version ${result.model.version}${result.model.updatedBy ? `, last changed by ${result.model.updatedBy} at ${result.model.updatedAt}` : ''}.`
        : 'Defaults (not stored yet).',
    );
    return result;
  }
}
