import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { localStackOptions } from '../../lib/cli/local-flags.js';
import { renderFields } from '../../lib/cli/output.js';
import { displayEndpoints, stackStatus, type StackStatus } from '../../lib/local/admin.js';

export default class LocalStatus extends SaasctlCommand {
  static override summary = "Show whether the local stack runs, its endpoints and its state's size.";
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  async run(): Promise<StackStatus> {
    const { flags } = await this.parse(LocalStatus);
    const status = await stackStatus(localStackOptions(flags).home);
    const stack = status.stack;
    this.log(
      renderFields({
        status: stack
          ? `running (${stack.mode === 'daemon' ? 'local start' : 'one-shot command'})`
          : 'stopped',
        home: status.home,
        'state size': `${(status.bytesOnDisk / 1024 / 1024).toFixed(1)} MiB`,
        pid: stack?.pid,
        since: stack?.startedAt,
        'user pool': stack?.platform.userPool.id || undefined,
        ...displayEndpoints(stack?.endpoints ?? {}),
        api: stack?.api,
      }),
    );
    return status;
  }
}
