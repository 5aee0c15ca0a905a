import { Args, Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import {
  DEFAULT_ITEM_BYTES,
  seedTenant,
  validateSeedRequest,
  type SeedResult,
} from '../../lib/tenants/seed.js';

export default class TenantSeed extends SaasctlCommand {
  static override summary =
    'Write synthetic application items for a tenant wherever its data lives now (local target only).';
  static override description =
    'For demos, tests and benchmarks: deterministic items (partition TENANT#<id> and three shards) written ' +
    'through saasctl’s data writer, so it is refused while the tenant is MIGRATING (exit 4, code ' +
    'TENANT_MIGRATING, retryable) and journaled while a promotion copies. Seeding the same indexes again ' +
    'rewrites the same items; --revision changes their content.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> acme --items 20000',
    '<%= config.bin %> <%= command.id %> acme --items 500 --from 20000 --item-bytes 1024',
    '<%= config.bin %> <%= command.id %> acme --items 100 --revision 2 --json',
  ];
  static override args = { tenantId: Args.string({ description: 'Tenant id', required: true }) };
  static override flags = {
    items: Flags.integer({ description: 'How many items to write', required: true }),
    'item-bytes': Flags.integer({
      description: 'Approximate size of each item',
      default: DEFAULT_ITEM_BYTES,
    }),
    from: Flags.integer({ description: 'Index of the first item', default: 0 }),
    revision: Flags.integer({ description: 'Content generation of the items', default: 1 }),
  };
  static override mutating = true;

  async run(): Promise<SeedResult> {
    const { args, flags } = await this.parse(TenantSeed);
    const request = validateSeedRequest({
      tenantId: args.tenantId,
      items: flags.items,
      itemBytes: flags['item-bytes'],
      from: flags.from,
      revision: flags.revision,
    });
    const result = await seedTenant(() => this.platform(flags), request, this.reporter);
    this.log(
      `Wrote ${result.items} items for ${result.tenantId} to ${result.table} in ${result.ms} ms (${result.itemsPerSecond} items/s).`,
    );
    return result;
  }
}
