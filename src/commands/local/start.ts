import { Flags } from '@oclif/core';

import { SaasctlCommand } from '../../lib/cli/base-command.js';
import { localStackOptions } from '../../lib/cli/local-flags.js';
import { renderFields } from '../../lib/cli/output.js';
import { displayEndpoints, startDetached, startStack, waitForApi } from '../../lib/local/admin.js';
import type { StackInfo } from '../../lib/local/stack.js';
import { startContinuousPump } from '../../lib/metering/local-pump.js';

/** Where `local start` serves the sample API unless told otherwise. */
const DEFAULT_API_PORT = 8787;

export default class LocalStart extends SaasctlCommand {
  static override summary = 'Start the embedded local stack and keep it up (foreground, or --detach).';
  static override description =
    'Commands do not need this: a one-shot command starts what it needs and stops it on exit. ' +
    'A long-running stack makes every command faster and keeps endpoints stable for other tools.';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --detach',
    '<%= config.bin %> <%= command.id %> --api-port 9000',
  ];
  static override flags = {
    detach: Flags.boolean({ description: 'Run in the background; stop it with `saasctl local stop`' }),
    api: Flags.boolean({
      description: 'Serve the sample documents API on 127.0.0.1 (--no-api to leave it off)',
      default: true,
      allowNo: true,
    }),
    'api-port': Flags.integer({
      description: 'Port of the sample API (0: any free port)',
      default: DEFAULT_API_PORT,
      min: 0,
      max: 65535,
    }),
  };
  protected override handlesInterrupt = true;

  async run(): Promise<StackInfo> {
    const { flags } = await this.parse(LocalStart);
    const options = localStackOptions(flags);
    if (flags.detach) {
      const info = await startDetached(options, {
        execPath: process.execPath,
        args: [
          ...process.execArgv,
          process.argv[1],
          'local',
          'start',
          ...(flags.api ? ['--api-port', String(flags['api-port'])] : ['--no-api']),
        ],
      });
      const api = flags.api ? await waitForApi(info.home, info.pid) : undefined;
      this.log(`Local stack running in the background (pid ${info.pid}).`);
      this.log(renderFields({ home: info.home, ...displayEndpoints(info.endpoints), api }));
      return { ...info, ...(api ? { api } : {}) };
    }
    const owner = await startStack(options);
    const api = flags.api
      ? await (await import('../../lib/local/api.js')).serveStackApi(owner, flags['api-port'], this.reporter)
      : undefined;
    const info = owner.info();
    this.log(`Local stack running (pid ${info.pid}). Press Ctrl-C to stop.`);
    this.log(renderFields({ home: info.home, ...displayEndpoints(info.endpoints), api: info.api }));
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
    await api?.close();
    await owner.stop();
    return info;
  }
}
