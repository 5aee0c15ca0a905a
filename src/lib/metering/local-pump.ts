import path from 'node:path';

import { conflict } from '../cli/errors.js';
import { localClients, type StackInfo } from '../local/stack.js';
import type { AwsClientFactory } from '../platform/clients.js';
import type { PlatformConfig } from '../platform/config.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { UsageCounters } from './counters.js';
import { MetricRegistry } from './metrics.js';
import { fileStateStore, pumpOnce, type PumpDependencies, type PumpResult } from './pump.js';

/**
 * `metering pump`: one pass of the local pipeline (Firehose and the aggregator Lambda). On aws
 * those services run by themselves, so there is nothing to pump.
 */
export async function runLocalPump(open: PlatformSource): Promise<PumpResult> {
  const platform = await open();
  if (platform.target.name !== 'local' || !platform.target.home) {
    throw conflict(
      'PUMP_IS_LOCAL',
      'The pipeline pump plays Firehose and the aggregator Lambda on the local stack only.',
      ['On aws, Firehose writes the lake and the Lambda on the stream updates the counters by themselves.'],
    );
  }
  return pumpOnce(localPumpDependencies(platform.clients, platform.config, platform.target.home));
}

/** The pump's clients, tables and state file, the same for one pass and for `local start`. */
function localPumpDependencies(
  clients: AwsClientFactory,
  config: PlatformConfig,
  home: string,
): PumpDependencies {
  return {
    kinesis: clients.kinesis(),
    s3: clients.s3(),
    counters: new UsageCounters(clients.documents(), config.tables.usage),
    registry: new MetricRegistry(),
    stream: config.usageStream,
    bucket: config.rawLakeBucket,
    store: fileStateStore(path.join(home, 'pump', 'state.json')),
  };
}

export interface ContinuousPump {
  /** Waits for the pass in progress, then stops. */
  stop(): Promise<void>;
}

/**
 * Keeps the local pipeline running inside `local start`: a pass every `intervalMs` (Firehose
 * buffers for a minute or more on aws; locally a few seconds keeps the demo lively). A failed
 * pass is reported and retried at the next tick: batches are written ahead, so nothing is lost.
 */
export function startContinuousPump(
  info: StackInfo,
  options: {
    readonly intervalMs?: number;
    readonly onPass?: (result: PumpResult) => void;
    readonly onError?: (err: unknown) => void;
  },
): ContinuousPump {
  const clients = localClients(info.endpoints, info.platform.region);
  const deps = localPumpDependencies(clients, info.platform, info.home);

  let running: Promise<void> = Promise.resolve();
  const tick = (): void => {
    running = running
      .then(() => pumpOnce(deps))
      .then(
        (result) => {
          if (result.batches > 0) options.onPass?.(result);
        },
        (err: unknown) => options.onError?.(err),
      );
  };
  const timer = setInterval(tick, options.intervalMs ?? 5000);
  tick();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      clients.destroy();
    },
  };
}
