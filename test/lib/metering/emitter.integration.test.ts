import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-kinesis';
import { expect } from 'chai';

import { startService, type RunningService } from '../../../src/lib/local/services.js';
import { localClients } from '../../../src/lib/local/stack.js';
import { UsageEmitter } from '../../../src/lib/metering/emitter.js';
import type { UsageEvent } from '../../../src/lib/metering/types.js';

describe('UsageEmitter on kinesalite', function () {
  this.timeout(60_000);
  let directory: string;
  let kinesalite: RunningService;
  let clients: ReturnType<typeof localClients>;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-kinesis-'));
    kinesalite = await startService(directory, 'kinesis', 'us-east-1');
    clients = localClients({ kinesis: kinesalite.endpoint }, 'us-east-1');
    await clients.kinesis().send(new CreateStreamCommand({ StreamName: 'usage', ShardCount: 2 }));
  });
  after(async () => {
    clients.destroy();
    await kinesalite.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('delivers every event once, in order per tenant, across calls and shards', async () => {
    const tenants = ['acme', 'globex', 'initech'];
    const events: UsageEvent[] = Array.from({ length: 1_234 }, (_, i) => ({
      eventId: `evt-${i}`,
      tenantId: tenants[i % tenants.length],
      metric: 'api.call',
      quantity: 1,
      ts: new Date(Date.UTC(2026, 10, 27, 10, 0, 0, i)).toISOString(),
    }));
    const result = await new UsageEmitter(clients.kinesis(), 'usage').emit(events);
    expect(result.sent).to.equal(1_234);
    expect(result.calls).to.equal(3);

    const kinesis = clients.kinesis();
    const { StreamDescription } = await kinesis.send(new DescribeStreamCommand({ StreamName: 'usage' }));
    const received: UsageEvent[] = [];
    for (const shard of StreamDescription?.Shards ?? []) {
      let { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: 'usage',
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      for (;;) {
        const page = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
        for (const record of page.Records ?? []) {
          const event = JSON.parse(Buffer.from(record.Data ?? []).toString('utf8')) as UsageEvent;
          expect(record.PartitionKey).to.equal(event.tenantId);
          received.push(event);
        }
        if ((page.Records ?? []).length === 0) break;
        ShardIterator = page.NextShardIterator;
      }
    }
    expect(received.map((e) => e.eventId).sort()).to.deep.equal(events.map((e) => e.eventId).sort());
    for (const tenant of tenants) {
      const own = received.filter((e) => e.tenantId === tenant).map((e) => Number(e.eventId.slice(4)));
      expect(own, `${tenant}'s events stay in order`).to.deep.equal([...own].sort((a, b) => a - b));
    }
  });
});
