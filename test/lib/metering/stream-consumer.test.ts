import { gunzipSync } from 'node:zlib';

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import type { CounterDelta } from '../../../src/lib/metering/counters.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { batchIdOf } from '../../../src/lib/metering/pump.js';
import { consumeUsageRecords, type StreamRecord } from '../../../src/lib/metering/stream-consumer.js';

const s3 = mockClient(S3Client);
const ARRIVAL = new Date('2026-11-27T10:20:00.000Z');

function record(sequenceNumber: string, data: unknown, shardId = 'shardId-000000000001'): StreamRecord {
  return {
    shardId,
    sequenceNumber,
    data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)),
    arrival: ARRIVAL,
  };
}

function event(eventId: string, quantity = 1): Record<string, unknown> {
  return { eventId, tenantId: 'acme', metric: 'api.call', quantity, ts: '2026-11-27T10:15:00.000Z' };
}

/** Counters in memory, with the real ones' contract: a batch id applies once per counter. */
function counters(): {
  apply(delta: CounterDelta, batchId: string): Promise<'applied' | 'duplicate'>;
  values: Map<string, number>;
} {
  const values = new Map<string, number>();
  const seen = new Set<string>();
  return {
    values,
    async apply(delta, batchId) {
      const key = `${delta.tenantId}|${delta.metric}|${delta.hour}`;
      if (seen.has(`${key}|${batchId}`)) return 'duplicate';
      seen.add(`${key}|${batchId}`);
      values.set(key, (values.get(key) ?? 0) + delta.quantity);
      return 'applied';
    },
  };
}

describe('consumeUsageRecords (the aggregator Lambda on the usage stream)', () => {
  beforeEach(() => {
    s3.reset();
    s3.on(PutObjectCommand).resolves({});
  });

  it('applies a batch once under the pump’s batch id, however often it is redelivered', async () => {
    const store = counters();
    const deps = { counters: store, registry: new MetricRegistry(), s3: new S3Client({}), bucket: 'lake' };
    const batch = [
      record('100', event('e-1', 2)),
      record('101', event('e-2', 3)),
      record('102', event('e-1', 2)),
    ];
    const first = await consumeUsageRecords(deps, batch);
    const again = await consumeUsageRecords(deps, batch);
    expect(first).to.deep.include({
      batchId: batchIdOf('shardId-000000000001', '100', '102'),
      applied: 1,
      events: 3,
    });
    expect(again).to.deep.include({ applied: 0, duplicates: 1 });
    expect(store.values.get('acme|api.call|2026-11-27T10')).to.equal(5);
    expect(s3.commandCalls(PutObjectCommand)).to.have.length(0);
  });

  it('quarantines malformed records under a key the retry overwrites, and counts the rest', async () => {
    const store = counters();
    const deps = { counters: store, registry: new MetricRegistry(), s3: new S3Client({}), bucket: 'lake' };
    const batch = [
      record('200', 'not json'),
      record('201', { ...event('e-3'), metric: 'no.such' }),
      record('202', event('e-4')),
    ];
    const result = await consumeUsageRecords(deps, batch);
    await consumeUsageRecords(deps, batch);
    expect(result).to.deep.include({ events: 1, malformed: 2, applied: 1 });
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).to.have.length(2);
    expect(puts[0].Key).to.equal(puts[1].Key);
    expect(puts[0].Key).to.match(/^quarantine\/2026\/11\/27\/10\/[0-9a-f-]{36}\.ndjson\.gz$/);
    const lines = gunzipSync(puts[0].Body as Buffer)
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.reason)).to.deep.equal(['not JSON', lines[1].reason]);
    expect(lines[1].reason).to.match(/metric/i);
    expect(store.values.get('acme|api.call|2026-11-27T10')).to.equal(1);
  });

  it('refuses a batch that mixes shards, and does nothing for an empty one', async () => {
    const deps = {
      counters: counters(),
      registry: new MetricRegistry(),
      s3: new S3Client({}),
      bucket: 'lake',
    };
    expect(await consumeUsageRecords(deps, [])).to.equal(undefined);
    let error: unknown;
    try {
      await consumeUsageRecords(deps, [
        record('1', event('a')),
        record('2', event('b'), 'shardId-000000000002'),
      ]);
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).to.match(/one shard/);
  });
});
