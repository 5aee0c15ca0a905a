import path from 'node:path';

import { conflict } from '../cli/errors.js';
import { localClients, type StackInfo } from '../local/stack.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { UsageCounters } from './counters.js';
import { MetricRegistry } from './metrics.js';
import { fileStateStore, pumpOnce, type PumpResult } from './pump.js';

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
  const { config, clients } = platform;
  return pumpOnce({
    kinesis: clients.kinesis(),
    s3: clients.s3(),
    counters: new UsageCounters(clients.documents(), config.tables.usage),
    registry: new MetricRegistry(),
    stream: config.usageStream,
    bucket: config.rawLakeBucket,
    store: fileStateStore(path.join(platform.target.home, 'pump', 'state.json')),
  });
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
  const deps = {
    kinesis: clients.kinesis(),
    s3: clients.s3(),
    counters: new UsageCounters(clients.documents(), info.platform.tables.usage),
    registry: new MetricRegistry(),
    stream: info.platform.usageStream,
    bucket: info.platform.rawLakeBucket,
    store: fileStateStore(path.join(info.home, 'pump', 'state.json')),
  };
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
