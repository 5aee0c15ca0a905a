import { UsageCounters } from '../../src/lib/metering/counters.js';
import { MetricRegistry } from '../../src/lib/metering/metrics.js';
import { consumeUsageRecords, type ConsumedBatch } from '../../src/lib/metering/stream-consumer.js';
import { lambdaPlatform } from './platform.js';

/** The Kinesis event source mapping's event (the fields used). */
interface KinesisEvent {
  readonly Records: readonly {
    readonly eventID: string;
    readonly kinesis: {
      readonly data: string;
      readonly sequenceNumber: string;
      readonly approximateArrivalTimestamp: number;
    };
  }[];
}

const registry = new MetricRegistry();

/** The aggregator on the usage stream: counters per tenant, metric and hour, once per batch. */
export async function handler(event: KinesisEvent): Promise<ConsumedBatch | undefined> {
  const { config, clients } = await lambdaPlatform();
  return consumeUsageRecords(
    {
      counters: new UsageCounters(clients.documents(), config.tables.usage),
      registry,
      s3: clients.s3(),
      bucket: config.rawLakeBucket,
    },
    event.Records.map((record) => ({
      // eventID is `<shardId>:<sequenceNumber>`.
      shardId: record.eventID.slice(0, record.eventID.lastIndexOf(':')),
      sequenceNumber: record.kinesis.sequenceNumber,
      data: Buffer.from(record.kinesis.data, 'base64'),
      arrival: new Date(record.kinesis.approximateArrivalTimestamp * 1000),
    })),
  );
}
