import path from 'node:path';

import { conflict } from '../cli/errors.js';
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
