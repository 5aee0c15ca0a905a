import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { SaasctlError } from '../../../src/lib/cli/errors.js';
import { batches, MAX_RECORDS_PER_CALL, UsageEmitter } from '../../../src/lib/metering/emitter.js';
import type { UsageEvent } from '../../../src/lib/metering/types.js';

const event = (n: number, tenantId = 'acme'): UsageEvent => ({
  eventId: `evt-${n}`,
  tenantId,
  metric: 'api.call',
  quantity: 1,
  ts: '2026-11-27T10:00:00.000Z',
});

const decode = (data: Uint8Array | undefined) =>
  JSON.parse(Buffer.from(data ?? []).toString('utf8')) as UsageEvent;

describe('UsageEmitter', () => {
  let kinesis: AwsClientStub<KinesisClient>;
  let client: KinesisClient;
  let slept: number[];
  // Created here, not at module level: stubs are process-wide.
  before(() => {
    kinesis = mockClient(KinesisClient);
  });
  after(() => kinesis.restore());
  beforeEach(() => {
    kinesis.reset();
    client = new KinesisClient({ region: 'us-east-1' });
    slept = [];
  });
  const emitter = () => new UsageEmitter(client, 'usage', { sleep: async (ms) => void slept.push(ms) });

  it('sends events to the stream partitioned by tenant id, as JSON', async () => {
    kinesis
      .on(PutRecordsCommand)
      .resolves({ FailedRecordCount: 0, Records: [{ SequenceNumber: '1' }, { SequenceNumber: '2' }] });
    const result = await emitter().emit([event(1), event(2, 'globex')]);
    expect(result).to.deep.equal({ sent: 2, calls: 1, retried: 0 });
    const input = kinesis.commandCalls(PutRecordsCommand)[0].args[0].input;
    expect(input.StreamName).to.equal('usage');
    expect(input.Records?.map((r) => r.PartitionKey)).to.deep.equal(['acme', 'globex']);
    expect(input.Records?.map((r) => decode(r.Data))).to.deep.equal([event(1), event(2, 'globex')]);
  });

  it('retries only the records the stream refused, with backoff', async () => {
    kinesis
      .on(PutRecordsCommand)
      .resolvesOnce({
        FailedRecordCount: 1,
        Records: [
          { SequenceNumber: '1' },
          { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' },
          { SequenceNumber: '3' },
        ],
      })
      .resolves({ FailedRecordCount: 0, Records: [{ SequenceNumber: '4' }] });
    const result = await emitter().emit([event(1), event(2), event(3)]);
    expect(result).to.deep.equal({ sent: 3, calls: 2, retried: 1 });
    const second = kinesis.commandCalls(PutRecordsCommand)[1].args[0].input;
    expect(second.Records?.map((r) => decode(r.Data).eventId)).to.deep.equal(['evt-2']);
    expect(slept).to.have.length(1);
    expect(slept[0]).to.be.within(50, 100);
  });

  it('never drops a record silently: when attempts run out, the error lists what was not sent', async () => {
    // The stream keeps refusing evt-2, whatever else the call carries.
    kinesis.on(PutRecordsCommand).callsFake((input: { Records: { Data: Uint8Array }[] }) => ({
      Records: input.Records.map((r) =>
        decode(r.Data).eventId === 'evt-2'
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'boom' }
          : { SequenceNumber: '1' },
      ),
    }));
    const error = await emitter()
      .emit([event(1), event(2)])
      .then(
        () => expect.fail('a record was never accepted'),
        (e: unknown) => e as SaasctlError,
      );
    expect(error.code).to.equal('EVENTS_NOT_SENT');
    expect(error.exitCode).to.equal(6);
    expect(error.details).to.deep.equal({ unsent: [{ eventId: 'evt-2', error: 'InternalFailure: boom' }] });
    expect(kinesis.commandCalls(PutRecordsCommand)).to.have.length(5);
  });

  it('splits calls at 500 records and 5 MiB', () => {
    const many = Array.from({ length: 1201 }, (_, i) => event(i));
    expect(batches(many).map((b) => b.length)).to.deep.equal([
      MAX_RECORDS_PER_CALL,
      MAX_RECORDS_PER_CALL,
      201,
    ]);
    const big = Array.from({ length: 12 }, (_, i) => ({
      ...event(i),
      eventId: `${'x'.repeat(100)}-${i}`,
      tenantId: 'a'.repeat(32),
      metric: `m.${'y'.repeat(50)}`,
      quantity: 1,
      ts: 'z'.repeat(1000 * 1000),
    }));
    expect(batches(big).map((b) => b.length)).to.deep.equal([5, 5, 2]);
  });

  it('refuses an event larger than a Kinesis record', () => {
    expect(() => batches([{ ...event(1), ts: 'z'.repeat(1024 * 1024) }])).to.throw(SaasctlError, /1 MiB/);
  });
});
