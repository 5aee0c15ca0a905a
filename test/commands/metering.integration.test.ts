import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { UsageEvent } from '../../src/lib/metering/types.js';
import { run, tempHome, type ErrorEnvelope } from '../helpers/cli.js';

describe('metering emit on the embedded stack', function () {
  this.timeout(60_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    const onboarded = await run(
      [
        'tenant',
        'onboard',
        'acme',
        '--tier',
        'pro',
        '--name',
        'Acme',
        '--admin-email',
        'ops@acme.test',
        '--json',
      ],
      home,
    );
    expect(onboarded.exitCode).to.equal(0);
  });
  after(async () => {
    await owner.stop();
    dispose();
  });

  async function streamEvents(): Promise<UsageEvent[]> {
    const kinesis = localClients(owner.info().endpoints, 'us-east-1').kinesis();
    const StreamName = owner.info().platform.usageStream;
    const { StreamDescription } = await kinesis.send(new DescribeStreamCommand({ StreamName }));
    const events: UsageEvent[] = [];
    for (const shard of StreamDescription?.Shards ?? []) {
      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const { Records } = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
      for (const record of Records ?? [])
        events.push(JSON.parse(Buffer.from(record.Data ?? []).toString()) as UsageEvent);
    }
    kinesis.destroy();
    return events;
  }

  it('puts a validated event for a known tenant on the usage stream', async () => {
    const result = await run(
      [
        'metering',
        'emit',
        '--tenant',
        'acme',
        '--metric',
        'storage.gb',
        '--quantity',
        '12.5',
        '--ts',
        '2026-11-27T10:00:00.000Z',
        '--event-id',
        'evt-1',
        '--json',
      ],
      home,
    );
    expect(result.exitCode, result.stdout).to.equal(0);
    const event = {
      eventId: 'evt-1',
      tenantId: 'acme',
      metric: 'storage.gb',
      quantity: 12.5,
      ts: '2026-11-27T10:00:00.000Z',
    };
    expect((result.json as { event: UsageEvent }).event).to.deep.equal(event);
    expect(await streamEvents()).to.deep.include(event);
  });

  it('refuses an unknown metric or a quantity that is not a number with exit 2, sending nothing', async () => {
    const before = (await streamEvents()).length;
    for (const [metric, quantity] of [
      ['foo.bar', '1'],
      ['api.call', 'abc'],
      ['api.call', '-1'],
    ]) {
      const result = await run(
        ['metering', 'emit', '--tenant', 'acme', '--metric', metric, '--quantity', quantity, '--json'],
        home,
      );
      expect(result.exitCode, `${metric} ${quantity}`).to.equal(2);
      expect((result.json as ErrorEnvelope).error.code).to.equal('INVALID_EVENT');
    }
    expect((await streamEvents()).length).to.equal(before);
  });

  it('answers a tenant the catalog does not know with exit 3', async () => {
    const result = await run(
      ['metering', 'emit', '--tenant', 'nobody', '--metric', 'api.call', '--quantity', '1', '--json'],
      home,
    );
    expect(result.exitCode).to.equal(3);
  });
});
