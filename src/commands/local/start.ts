import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { localStackOptions } from '../../lib/cli/local-flags.js';
import { renderFields } from '../../lib/cli/output.js';
import { startDetached, startStack } from '../../lib/local/admin.js';
import type { StackInfo } from '../../lib/local/stack.js';
import { startContinuousPump } from '../../lib/metering/local-pump.js';

export default class LocalStart extends SaasctlCommand {
  static override summary = 'Start the embedded local stack and keep it up (foreground, or --detach).';
  static override description =
    'Commands do not need this: a one-shot command starts what it needs and stops it on exit. ' +
    'A long-running stack makes every command faster and keeps endpoints stable for other tools.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --detach',
  ];
  static override flags = {
    detach: Flags.boolean({ description: 'Run in the background; stop it with `saasctl local stop`' }),
  };
  protected override handlesInterrupt = true;

  async run(): Promise<StackInfo> {
    const { flags } = await this.parse(LocalStart);
    const options = localStackOptions(flags);
    if (flags.detach) {
      const info = await startDetached(options, {
        execPath: process.execPath,
        args: [...process.execArgv, process.argv[1], 'local', 'start'],
      });
      this.log(`Local stack running in the background (pid ${info.pid}).`);
      this.log(renderFields({ home: info.home, ...info.endpoints }));
      return info;
    }
    const owner = await startStack(options);
    const info = owner.info();
    this.log(`Local stack running (pid ${info.pid}). Press Ctrl-C to stop.`);
    this.log(renderFields({ home: info.home, ...info.endpoints }));
    // The local pipeline (Firehose and the aggregator Lambda) runs while the stack is up.
    const pump = startContinuousPump(info, {
      onPass: (result) =>
        this.reporter.info(
          `pump: ${result.records} records, ${result.events} events, ${result.malformed} malformed`,
        ),
      onError: (err) => this.reporter.warn(`pump: ${err instanceof Error ? err.message : String(err)}`),
    });
    const signalled = new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await Promise.race([owner.stopSignal, signalled]);
    this.reporter.info('Stopping the local stack…');
    await pump.stop();
    await owner.stop();
    return info;
  }
}
