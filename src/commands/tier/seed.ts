import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { catalogs } from '../../lib/tenants/context.js';

export interface TierSeedResult {
  readonly created: string[];
}

export default class TierSeed extends SaasctlCommand {
  static override summary =
    'Write the default tiers that the catalog lacks (never overwrites an edited tier).';
  static override description = 'The local stack seeds them by itself; on a new AWS stage, run this once.';
  static override examples = ['<%= config.bin %> <%= command.id %> --target aws --stage prod'];
  static override mutating = true;

  async run(): Promise<TierSeedResult> {
    const { flags } = await this.parse(TierSeed);
    const created = await catalogs(await this.platform(flags)).tiers.seedDefaults();
    this.log(
      created.length === 0 ? 'Every default tier is present.' : `Created tiers: ${created.join(', ')}.`,
    );
    return { created };
  }
}
