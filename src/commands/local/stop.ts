import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { localStackOptions } from '../../lib/cli/local-flags.js';
import { stopStack } from '../../lib/local/admin.js';

export default class LocalStop extends SaasctlCommand {
  static override summary = 'Stop the long-running local stack (state is kept).';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<{ stopped: boolean; pid?: number }> {
    const { flags } = await this.parse(LocalStop);
    const result = await stopStack(localStackOptions(flags).home);
    this.log(
      result.stopped ? `Stopped the local stack (pid ${result.pid}).` : 'The local stack is not running.',
    );
    return result;
  }
}
