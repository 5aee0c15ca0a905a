import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { tierColumns } from '../../lib/cli/views.js';
import { catalogs } from '../../lib/tenants/context.js';
import type { Tier } from '../../lib/tenants/tiers.js';

export default class TierList extends SaasctlCommand {
  static override summary = 'List the tiers of the catalog.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  async run(): Promise<Tier[]> {
    const { flags } = await this.parse(TierList);
    const tiers = await catalogs(await this.platform(flags)).tiers.list();
    await this.logTable(tiers, tierColumns, 'No tiers: seed the defaults with `saasctl tier seed`.');
    return tiers;
  }
}
