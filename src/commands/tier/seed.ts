import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { CostCatalog } from '../../lib/insight/cost-model.js';
import { catalogs } from '../../lib/tenants/context.js';

export interface TierSeedResult {
  readonly created: string[];
  /** True when the default cost model was written (none was stored). */
  readonly costModelCreated: boolean;
}

export default class TierSeed extends SaasctlCommand {
  static override summary =
    'Write the default tiers and cost model that the catalog lacks (never overwrites an edited one).';
  static override description = 'The local stack seeds them by itself; on a new AWS stage, run this once.';
  static override examples = ['<%= config.bin %> <%= command.id %> --target aws --stage prod'];
  static override mutating = true;

  async run(): Promise<TierSeedResult> {
    const { flags } = await this.parse(TierSeed);
    const platform = await this.platform(flags);
    const created = await catalogs(platform).tiers.seedDefaults();
    const costModelCreated = await new CostCatalog(
      platform.clients.documents(),
      platform.config.tables.controlPlane,
    ).seedDefaults();
    this.log(
      created.length === 0 ? 'Every default tier is present.' : `Created tiers: ${created.join(', ')}.`,
    );
    this.log(costModelCreated ? 'Stored the default cost model.' : 'A cost model is already stored.');
    return { created, costModelCreated };
  }
}
