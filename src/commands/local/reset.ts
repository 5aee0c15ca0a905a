import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { localStackOptions } from '../../lib/cli/local-flags.js';
import { resetHome } from '../../lib/local/admin.js';

export default class LocalReset extends SaasctlCommand {
  static override summary = "Delete the local stack's state: every tenant, table, object and user.";
  static override examples = ['<%= config.bin %> <%= command.id %> --yes'];
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation' }),
  };

  async run(): Promise<{ home: string; removedBytes: number }> {
    const { flags } = await this.parse(LocalReset);
    const options = localStackOptions(flags);
    await this.confirm(`Delete all local state in ${options.home}?`, flags.yes);
    const { removedBytes } = await resetHome(options);
    this.log(`Reset ${options.home} (${(removedBytes / 1024 / 1024).toFixed(1)} MiB removed).`);
    return { home: options.home, removedBytes };
  }
}
