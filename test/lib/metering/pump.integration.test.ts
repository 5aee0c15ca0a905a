import { ListObjectsCommand } from '@aws-sdk/client-s3';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';

import { startStack } from '../../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../../src/lib/local/stack.js';
import { UsageCounters } from '../../../src/lib/metering/counters.js';
import { UsageEmitter } from '../../../src/lib/metering/emitter.js';
import { readLakeObject } from '../../../src/lib/metering/lake.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { fileStateStore, pumpOnce, type PumpDependencies } from '../../../src/lib/metering/pump.js';
import type { UsageEvent } from '../../../src/lib/metering/types.js';
import { tempHome } from '../../helpers/cli.js';

describe('the local pipeline pump', function () {
  this.timeout(60_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;
  let clients: ReturnType<typeof localClients>;
  let counters: UsageCounters;
  let deps: PumpDependencies;

  const NOW = new Date('2026-11-27T12:00:00.000Z');
  const event = (n: number, tenantId: string, metric = 'api.call', quantity = 1, hour = 10): UsageEvent => ({
    eventId: `evt-${tenantId}-${n}`,
    tenantId,
    metric,
    quantity,
    ts: new Date(Date.UTC(2026, 10, 27, hour, n % 60)).toISOString(),
  });

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    clients = localClients(owner.info().endpoints, 'us-east-1');
    const platform = owner.info().platform;
    counters = new UsageCounters(clients.documents(), platform.tables.usage);
    deps = {
      kinesis: clients.kinesis(),
      s3: clients.s3(),
      counters,
      registry: new MetricRegistry(),
      stream: platform.usageStream,
      bucket: platform.rawLakeBucket,
      store: fileStateStore(`${home}/pump/state.json`),
      now: () => NOW,
      batchSize: 100,
    };
  });
  after(async () => {
    clients.destroy();
    await owner.stop();
    dispose();
  });

  async function quantities(): Promise<Record<string, number>> {
    const all = await counters.list({ from: '2026-11-27T00', to: '2026-11-27T23' });
    return Object.fromEntries(all.map((c) => [`${c.tenantId} ${c.metric} ${c.hour}`, c.quantity]));
  }

  async function keys(prefix: string): Promise<string[]> {
    const { Contents } = await clients
      .s3()
      .send(new ListObjectsCommand({ Bucket: deps.bucket, Prefix: prefix }));
    return (Contents ?? []).map((c) => String(c.Key));
  }

  it('writes every record to the lake, counts valid events and quarantines malformed ones', async () => {
    const events = [
      ...Array.from({ length: 250 }, (_, i) => event(i, 'acme')),
      ...Array.from({ length: 40 }, (_, i) => event(i, 'globex', 'storage.gb', i / 2, 11)),
    ];
    await new UsageEmitter(clients.kinesis(), deps.stream).emit(events);
    await clients.kinesis().send(
      new PutRecordsCommand({
        StreamName: deps.stream,
        Records: [
          { PartitionKey: 'acme', Data: Buffer.from('not json') },
          {
            PartitionKey: 'acme',
            Data: Buffer.from(JSON.stringify({ ...event(999, 'acme'), metric: 'no.such' })),
          },
        ],
      }),
    );

    const result = await pumpOnce(deps);

    expect(result).to.include({ records: 292, events: 290, malformed: 2, duplicateBatches: 0 });
    const q = await quantities();
    expect(q['acme api.call 2026-11-27T10']).to.equal(250);
    expect(q['globex storage.gb 2026-11-27T11'], 'max per hour for a stock metric').to.equal(19.5);
    const lake = await keys('raw/2026/11/27/12/');
    expect(lake).to.have.length(result.lakeObjects);
    let lines = 0;
    for (const key of lake) for await (const _line of readLakeObject(clients.s3(), deps.bucket, key)) lines++;
    expect(lines, 'the lake keeps every record, malformed ones too').to.equal(292);
    expect(await keys('quarantine/2026/11/27/12/')).to.have.length(1);
  });

  it('does nothing on a second pass: the checkpoints moved', async () => {
    const before = await quantities();
    const result = await pumpOnce(deps);
    expect(result.batches).to.equal(0);
    expect(await quantities()).to.deep.equal(before);
  });

  it('redoes a batch a crash interrupted without counting it twice or copying it in the lake', async () => {
    const before = await quantities();
    const lakeBefore = (await keys('raw/')).length;
    await new UsageEmitter(clients.kinesis(), deps.stream).emit(
      Array.from({ length: 30 }, (_, i) => event(1000 + i, 'acme')),
    );
    // The first pass dies after applying its first counter write.
    let writes = 0;
    const crashing: PumpDependencies = {
      ...deps,
      counters: {
        apply: async (delta, batchId) => {
          const outcome = await counters.apply(delta, batchId);
          if (++writes === 1) throw new Error('crash after the first counter write');
          return outcome;
        },
      },
    };
    await pumpOnce(crashing).then(
      () => expect.fail('the pass crashed'),
      (err: Error) => expect(err.message).to.equal('crash after the first counter write'),
    );

    // More usage arrives before the re-run: the interrupted batch must be redone exactly as it
    // was (its written-ahead range), not re-read with the new records under a new batch id.
    await new UsageEmitter(clients.kinesis(), deps.stream).emit(
      Array.from({ length: 5 }, (_, i) => event(2000 + i, 'acme')),
    );

    await pumpOnce(deps);

    const after = await quantities();
    expect(after['acme api.call 2026-11-27T10']).to.equal(before['acme api.call 2026-11-27T10'] + 35);
    // The redone batch overwrote its own lake object; the 5 later events made one more.
    expect((await keys('raw/')).length).to.equal(lakeBefore + 2);
  });
});
