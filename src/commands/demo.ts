import path from 'node:path';

import { SaasctlCommand } from '../lib/cli/base-command.js';
import { SaasctlError, usageError } from '../lib/cli/errors.js';
import {
  cliRunner,
  demoTour,
  runTour,
  TourStepFailed,
  type StepEvent,
  type TourReport,
} from '../lib/demo/tour.js';
import { LOCAL_SERVICES, ON_DEMAND_SERVICES } from '../lib/local/services.js';

export default class Demo extends SaasctlCommand {
  static override summary = 'A guided tour of saasctl on the embedded stack, a few minutes long.';
  static override description = [
    'Onboards a pool and an enterprise tenant, simulates last month with a few heavy tenants, reconciles it,',
    'bills it to the Marketplace emulator, shows the margin report flagging a heavy pooled tenant, promotes it',
    'to a silo, then pulls the kill switch on a silo key and restores it. Each step prints what it does and the',
    'saasctl command that does it. Running it again works: what is done already is skipped. Local target only.',
  ].join('\n');
  static override examples = ['<%= config.bin %> <%= command.id %>'];
  // The tour holds the stack open for its commands (what `local start` runs), so they share it.
  static override localServices = LOCAL_SERVICES.filter((service) => !ON_DEMAND_SERVICES.includes(service));
  static override mutating = true;

  async run(): Promise<TourReport> {
    const { flags } = await this.parse(Demo);
    const target = this.target(flags);
    if (target.name !== 'local' || !target.home) {
      throw usageError(
        'DEMO_LOCAL_ONLY',
        'The demo runs on the local target only: it onboards and bills demo tenants.',
      );
    }
    await this.platform(flags);
    const bin = path.join(this.config.root, 'bin', 'run.js');
    const env = {
      ...process.env,
      SAASCTL_TARGET: 'local',
      SAASCTL_HOME: target.home,
      SAASCTL_STAGE: target.stage,
      AWS_REGION: target.region,
      NO_COLOR: '1',
    };
    const exec = cliRunner(bin, env);
    try {
      return await runTour(demoTour(), exec, (event) => this.show(event));
    } catch (err) {
      if (!(err instanceof TourStepFailed)) throw err;
      const detail = (err.outcome.json as { error?: { message?: string } } | undefined)?.error?.message;
      throw new SaasctlError('DEMO_STEP_FAILED', `${err.message}${detail ? ` ${detail}` : ''}`, {
        actions: [`Run it yourself to see why: saasctl ${err.argv.join(' ')}`],
      });
    }
  }

  private show(event: StepEvent): void {
    if (this.jsonEnabled()) return;
    switch (event.kind) {
      case 'start':
        this.log('');
        this.log(`Step ${event.index + 1}/${event.total}: ${event.step.title}`);
        this.log(`  ${event.step.explain}`);
        this.log(`  $ saasctl ${event.argv.join(' ')}`);
        return;
      case 'skip':
        this.log('');
        this.log(`Step ${event.index + 1}/${event.total}: ${event.step.title}`);
        this.log(`  skipped: ${event.reason}`);
        return;
      case 'done':
        this.log(`  → ${event.summary} (${(event.ms / 1000).toFixed(1)} s)`);
        return;
    }
  }
}
