import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import {
  assertDimensionMapping,
  batchInput,
  batchRecords,
  billableUnits,
  dimensionMappingProblem,
  MAX_REQUEST_BYTES,
  meterBatch,
  pacer,
  requestBytes,
  type MeterRecord,
} from '../../../src/lib/metering/marketplace.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { DEFAULT_DIMENSIONS } from '../../../src/lib/tenants/tiers.js';
import { awsError, thrownBy } from '../helpers/aws.js';

const ACCOUNT = '111122223333';
const LICENSE = `arn:aws:license-manager::${ACCOUNT}:license:l-0123456789abcdef0123456789abcdef`;
const HOUR_START = Date.UTC(2026, 10, 27, 10);

function rec(overrides: Partial<MeterRecord> = {}): MeterRecord {
  return {
    customer: { customerAwsAccountId: ACCOUNT, licenseArn: LICENSE },
    dimension: 'api_calls',
    timestampMs: HOUR_START,
    quantity: 5,
    ...overrides,
  };
}

function usageRecord(r: MeterRecord): UsageRecord {
  return {
    Timestamp: new Date(r.timestampMs),
    Dimension: r.dimension,
    Quantity: r.quantity,
    CustomerAWSAccountId: r.customer.customerAwsAccountId,
    LicenseArn: r.customer.licenseArn,
  };
}

const noSleep = { sleep: async () => undefined };

describe('Marketplace metering (push side)', () => {
  describe('billableUnits', () => {
    it('bills whole units, rounding a fraction of a unit up and nothing for none', () => {
      expect([0, -1, Number.NaN, 1, 12, 12.2, 12.9999999999].map(billableUnits)).to.deep.equal([
        0, 0, 0, 1, 12, 13, 13,
      ]);
    });
  });

  describe('dimension mapping', () => {
    const registry = new MetricRegistry();

    it('accepts the default mapping of every default metric to its own dimension', () => {
      expect(dimensionMappingProblem(DEFAULT_DIMENSIONS, registry)).to.equal(undefined);
      expect(DEFAULT_DIMENSIONS.map((d) => d.metric).sort()).to.deep.equal(registry.names().sort());
    });

    it('refuses unknown metrics, bad dimension names and anything mapped twice, naming the rule', () => {
      const cases: [{ metric: string; dimension: string }[], string][] = [
        [[{ metric: 'api.calls', dimension: 'x' }], 'metric "api.calls" is not a known metric'],
        [[{ metric: 'api.call', dimension: '' }], 'must be 1-255 characters'],
        [[{ metric: 'api.call', dimension: ' x' }], 'without surrounding spaces'],
        [[{ metric: 'api.call', dimension: 'd'.repeat(256) }], 'must be 1-255 characters'],
        [
          [
            { metric: 'api.call', dimension: 'a' },
            { metric: 'api.call', dimension: 'b' },
          ],
          'mapped twice',
        ],
        [
          [
            { metric: 'api.call', dimension: 'a' },
            { metric: 'doc.processed', dimension: 'a' },
          ],
          'mapped from two metrics',
        ],
      ];
      for (const [mapping, problem] of cases) {
        expect(dimensionMappingProblem(mapping, registry)).to.include(problem);
      }
      const err = thrownBy(() => assertDimensionMapping('pro', cases[0][0], registry));
      expect(err.code).to.equal('INVALID_DIMENSION_MAPPING');
      expect(err.exitCode).to.equal(2);
      expect(err.message).to.match(
        /^Tier "pro" has an invalid Marketplace dimension mapping: metric "api.calls"/,
      );
    });
  });

  describe('batchInput', () => {
    it('sends license records without ProductCode, and legacy records with their product', () => {
      expect(batchInput([rec()])).to.deep.equal({ UsageRecords: [usageRecord(rec())] });
      const legacy = rec({ customer: { customerIdentifier: 'cust-1', productCode: 'prod' } });
      expect(batchInput([legacy])).to.deep.equal({
        UsageRecords: [
          {
            Timestamp: new Date(HOUR_START),
            Dimension: 'api_calls',
            Quantity: 5,
            CustomerIdentifier: 'cust-1',
          },
        ],
        ProductCode: 'prod',
      });
    });
  });

  describe('batchRecords', () => {
    it('cuts calls at 25 records', () => {
      const records = Array.from({ length: 60 }, (_, i) => rec({ dimension: `d${i}` }));
      const batches = batchRecords(records);
      expect(batches.map((b) => b.length)).to.deep.equal([25, 25, 10]);
      expect(batches.flat()).to.deep.equal(records);
    });

    it('cuts calls before they reach 1 MB, measured as the SDK serializes them', () => {
      // Records of ~300 KB (dimension names far beyond AWS's 255, to reach the size rule alone).
      const big = (i: number) => rec({ dimension: `${i}`.padEnd(300_000, 'x') });
      const records = [0, 1, 2, 3, 4, 5, 6].map(big);
      const batches = batchRecords(records);
      expect(batches.map((b) => b.length)).to.deep.equal([3, 3, 1]);
      for (const batch of batches) expect(requestBytes(batch)).to.be.lessThan(MAX_REQUEST_BYTES);
      expect(requestBytes([...batches[0], records[3]])).to.be.at.least(MAX_REQUEST_BYTES);
      const sdkBody = JSON.stringify({
        UsageRecords: [{ ...usageRecord(records[0]), Timestamp: HOUR_START / 1000 }],
      });
      expect(requestBytes([records[0]])).to.equal(Buffer.byteLength(sdkBody));
    });

    it('never mixes products in a call', () => {
      const legacy = (i: number) =>
        rec({
          dimension: `l${i}`,
          customer: { customerIdentifier: `c${i}`, productCode: i < 2 ? 'p1' : 'p2' },
        });
      const batches = batchRecords([rec(), legacy(0), rec({ dimension: 'x' }), legacy(2), legacy(1)]);
      expect(batches.map((b) => b.map((r) => r.dimension))).to.deep.equal([
        ['api_calls', 'x'],
        ['l0', 'l1'],
        ['l2'],
      ]);
    });

    it('refuses a record too large to be sent alone', () => {
      const err = thrownBy(() => batchRecords([rec({ dimension: 'x'.repeat(MAX_REQUEST_BYTES) })]));
      expect(err.code).to.equal('USAGE_RECORD_TOO_LARGE');
    });
  });

  describe('meterBatch', () => {
    let marketplace: AwsClientStub<MarketplaceMeteringClient>;
    let client: MarketplaceMeteringClient;
    before(() => {
      marketplace = mockClient(MarketplaceMeteringClient);
      client = new MarketplaceMeteringClient({ region: 'us-east-1' });
    });
    after(() => {
      marketplace.restore();
      client.destroy();
    });
    beforeEach(() => marketplace.reset());

    const records = [rec({ dimension: 'a' }), rec({ dimension: 'b', quantity: 7 }), rec({ dimension: 'c' })];
    const success = (r: MeterRecord, id: string) => ({
      UsageRecord: usageRecord(r),
      MeteringRecordId: id,
      Status: 'Success' as const,
    });

    it('sends the records in one call and maps each result to its record', async () => {
      marketplace.on(BatchMeterUsageCommand).resolves({
        Results: [
          success(records[0], 'm-a'),
          { UsageRecord: usageRecord(records[1]), Status: 'DuplicateRecord' },
          { UsageRecord: usageRecord(records[2]), Status: 'CustomerNotSubscribed' },
        ],
        UnprocessedRecords: [],
      });

      const report = await meterBatch(client, records, noSleep);

      expect(marketplace.commandCalls(BatchMeterUsageCommand).map((c) => c.args[0].input)).to.deep.equal([
        { UsageRecords: records.map(usageRecord) },
      ]);
      expect(report.calls).to.equal(1);
      expect(report.outcomes.get(records[0])).to.deep.equal({ status: 'ACCEPTED', meteringRecordId: 'm-a' });
      expect(report.outcomes.get(records[1])?.status).to.equal('DUPLICATE');
      expect(report.outcomes.get(records[2])).to.deep.include({ status: 'REJECTED' });
      expect((report.outcomes.get(records[2]) as { reason: string }).reason).to.match(
        /^CustomerNotSubscribed/,
      );
    });

    it('sends UnprocessedRecords again, alone, after a backoff', async () => {
      const sleeps: number[] = [];
      marketplace
        .on(BatchMeterUsageCommand)
        .resolvesOnce({
          Results: [success(records[0], 'm-a')],
          UnprocessedRecords: [usageRecord(records[1]), usageRecord(records[2])],
        })
        .resolvesOnce({
          Results: [success(records[1], 'm-b')],
          UnprocessedRecords: [usageRecord(records[2])],
        })
        .resolvesOnce({ Results: [success(records[2], 'm-c')], UnprocessedRecords: [] });

      const report = await meterBatch(client, records, { sleep: async (ms) => void sleeps.push(ms) });

      expect(marketplace.commandCalls(BatchMeterUsageCommand).map((c) => c.args[0].input)).to.deep.equal([
        { UsageRecords: records.map(usageRecord) },
        { UsageRecords: [usageRecord(records[1]), usageRecord(records[2])] },
        { UsageRecords: [usageRecord(records[2])] },
      ]);
      expect(sleeps).to.deep.equal([200, 400]);
      expect(report).to.include({ calls: 3, unprocessed: 3, throttled: 0 });
      expect([...report.outcomes.values()].map((o) => o.status)).to.deep.equal([
        'ACCEPTED',
        'ACCEPTED',
        'ACCEPTED',
      ]);
    });

    it('retries throttling and service errors with capped exponential backoff, then leaves the records in flight', async () => {
      const sleeps: number[] = [];
      marketplace
        .on(BatchMeterUsageCommand)
        .rejectsOnce(awsError('ThrottlingException'))
        .rejectsOnce(awsError('InternalServiceErrorException'))
        .rejects(awsError('ThrottlingException'));

      const report = await meterBatch(client, records, {
        sleep: async (ms) => void sleeps.push(ms),
        maxAttempts: 6,
        baseDelayMs: 100,
        maxDelayMs: 500,
      });

      expect(marketplace.commandCalls(BatchMeterUsageCommand)).to.have.length(6);
      for (const call of marketplace.commandCalls(BatchMeterUsageCommand)) {
        expect(call.args[0].input).to.deep.equal({ UsageRecords: records.map(usageRecord) });
      }
      expect(sleeps).to.deep.equal([100, 200, 400, 500, 500]);
      expect(report).to.include({ calls: 6, throttled: 5, failures: 1 });
      for (const r of records) {
        expect(report.outcomes.get(r)).to.deep.equal({
          status: 'IN_FLIGHT',
          reason: 'ThrottlingException: mocked ThrottlingException after 6 attempts',
        });
      }
    });

    it('narrows a call refused for one record down to that record, REJECTED, and sends the others', async () => {
      const bad = records[1];
      marketplace.on(BatchMeterUsageCommand).callsFake((input: { UsageRecords: UsageRecord[] }) => {
        if (input.UsageRecords.some((r) => r.Dimension === bad.dimension)) {
          throw awsError('InvalidUsageDimensionException', 'no such dimension');
        }
        return {
          Results: input.UsageRecords.map((r) => ({
            UsageRecord: r,
            Status: 'Success',
            MeteringRecordId: `m-${r.Dimension}`,
          })),
        };
      });

      const report = await meterBatch(client, records, noSleep);

      expect(
        marketplace
          .commandCalls(BatchMeterUsageCommand)
          .map((c) => c.args[0].input.UsageRecords?.map((r) => r.Dimension)),
      ).to.deep.equal([['a', 'b', 'c'], ['a', 'b'], ['a'], ['b'], ['c']]);
      expect(report.outcomes.get(bad)).to.deep.equal({
        status: 'REJECTED',
        reason: 'InvalidUsageDimensionException: no such dimension',
      });
      expect(report.outcomes.get(records[0])).to.deep.equal({ status: 'ACCEPTED', meteringRecordId: 'm-a' });
      expect(report.outcomes.get(records[2])).to.deep.equal({ status: 'ACCEPTED', meteringRecordId: 'm-c' });
    });

    it('stops on an error that concerns every record (access, product), leaving them to the caller', async () => {
      marketplace.on(BatchMeterUsageCommand).rejects(awsError('AccessDeniedException'));

      let failure: unknown;
      await meterBatch(client, records, noSleep).catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'AccessDeniedException');
      expect(marketplace.commandCalls(BatchMeterUsageCommand)).to.have.length(1);
    });
  });

  describe('pacer', () => {
    it('spaces call starts so that at most N start per second, for every caller sharing it', async () => {
      let clock = 0;
      const starts: number[] = [];
      const pace = pacer(
        10,
        () => clock,
        async (ms) => void (clock += ms),
      );
      for (let i = 0; i < 12; i++) {
        await pace();
        starts.push(clock);
      }
      expect(starts).to.deep.equal([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]);
    });
  });
});
