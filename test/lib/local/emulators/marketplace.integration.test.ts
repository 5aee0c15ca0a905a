import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  type BatchMeterUsageCommandOutput,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { expect } from 'chai';

import {
  marketplaceControl,
  type MarketplaceControl,
} from '../../../../src/lib/local/emulators/marketplace-control.js';
import {
  startMarketplaceEmulator,
  type MarketplaceEmulatorOptions,
} from '../../../../src/lib/local/emulators/marketplace.js';
import type { RunningService } from '../../../../src/lib/local/services.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 27, 12, 30);
const ACCOUNT = '111122223333';
const LICENSE = `arn:aws:license-manager::${ACCOUNT}:license:l-0123456789abcdef0123456789abcdef`;
const PRODUCT = 'prod1234';

function record(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    Timestamp: new Date(NOW - 2 * HOUR - 30 * 60_000),
    Dimension: 'api_calls',
    Quantity: 10,
    CustomerAWSAccountId: ACCOUNT,
    LicenseArn: LICENSE,
    ...overrides,
  };
}

describe('Marketplace Metering emulator', () => {
  let directory: string;
  let emulator: RunningService;
  let client: MarketplaceMeteringClient;
  let control: MarketplaceControl;
  let clock = NOW;

  async function start(options: Partial<MarketplaceEmulatorOptions> = {}): Promise<void> {
    emulator = await startMarketplaceEmulator({
      directory,
      now: () => clock,
      productCodes: [PRODUCT],
      ...options,
    });
    client = new MarketplaceMeteringClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    control = marketplaceControl(emulator.endpoint);
  }

  async function stop(): Promise<void> {
    client.destroy();
    await emulator.stop();
  }

  function meter(records: UsageRecord[], productCode?: string): Promise<BatchMeterUsageCommandOutput> {
    return client.send(
      new BatchMeterUsageCommand({
        UsageRecords: records,
        ...(productCode ? { ProductCode: productCode } : {}),
      }),
    );
  }

  async function failure(
    promise: Promise<unknown>,
  ): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
    try {
      await promise;
    } catch (err) {
      return err as Error;
    }
    return expect.fail('expected the call to fail');
  }

  beforeEach(async () => {
    clock = NOW;
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-marketplace-'));
    await start();
    await control.registerSubscription({ CustomerAWSAccountId: ACCOUNT, LicenseArn: LICENSE });
  });

  afterEach(async () => {
    await stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('honours a record of a subscribed buyer with Success and a MeteringRecordId, and keeps it', async () => {
    const output = await meter([record()]);

    expect(output.UnprocessedRecords).to.deep.equal([]);
    expect(output.Results).to.have.length(1);
    expect(output.Results?.[0].Status).to.equal('Success');
    expect(output.Results?.[0].MeteringRecordId).to.be.a('string');
    expect(output.Results?.[0].UsageRecord).to.deep.equal(record());
    const accepted = await control.accepted();
    expect(accepted.map(({ meteringRecordId: _id, acceptedAt: _at, ...rest }) => rest)).to.deep.equal([
      {
        customerAwsAccountId: ACCOUNT,
        licenseArn: LICENSE,
        dimension: 'api_calls',
        timestamp: '2026-11-27T10:00:00.000Z',
        quantity: 10,
      },
    ]);
  });

  it('answers an identical record with Success and the same id, billing it once', async () => {
    const first = await meter([record()]);
    const again = await meter([record()]);

    expect(again.Results?.[0].Status).to.equal('Success');
    expect(again.Results?.[0].MeteringRecordId).to.equal(first.Results?.[0].MeteringRecordId);
    expect(await control.accepted()).to.have.length(1);
  });

  it('answers the same customer, dimension and hour with another quantity with DuplicateRecord', async () => {
    await meter([record()]);
    const output = await meter([record({ Quantity: 11, Timestamp: new Date(NOW - 2 * HOUR - 10 * 60_000) })]);

    expect(output.Results?.[0].Status).to.equal('DuplicateRecord');
    expect(output.Results?.[0].MeteringRecordId).to.equal(undefined);
    expect((await control.accepted()).map((r) => r.quantity)).to.deep.equal([10]);
  });

  it('answers a buyer that is not subscribed with CustomerNotSubscribed, and takes it once registered', async () => {
    const stranger = record({ CustomerAWSAccountId: '444455556666' });
    expect((await meter([stranger])).Results?.[0].Status).to.equal('CustomerNotSubscribed');

    await control.registerSubscription({ CustomerAWSAccountId: '444455556666', LicenseArn: LICENSE });
    expect((await meter([stranger])).Results?.[0].Status).to.equal('Success');

    await control.deregisterSubscription({ CustomerAWSAccountId: ACCOUNT, LicenseArn: LICENSE });
    expect((await meter([record({ Dimension: 'documents' })])).Results?.[0].Status).to.equal(
      'CustomerNotSubscribed',
    );
  });

  it('takes 25 records in a call and refuses 26 with a ValidationException', async () => {
    const records = (n: number) => Array.from({ length: n }, (_, i) => record({ Dimension: `d${i}` }));
    expect((await meter(records(25))).Results).to.have.length(25);

    const err = await failure(meter(records(26)));
    expect(err.name).to.equal('ValidationException');
    expect(err.message).to.include('less than or equal to 25');
  });

  it('refuses a request of 1 MB or more', async () => {
    const allocations = Array.from({ length: 2000 }, () => ({
      AllocatedUsageQuantity: 0,
      Tags: [{ Key: 'k', Value: 'x'.repeat(600) }],
    }));
    const err = await failure(meter([record({ Quantity: 0, UsageAllocations: allocations })]));

    expect(err.name).to.equal('ValidationException');
    expect(err.message).to.include('less than 1 MB');
  });

  it('refuses a whole call with a timestamp 6 hours old or more, or in the future', async () => {
    const sixHoursAgo = record({ Timestamp: new Date(NOW - 6 * HOUR) });
    const future = record({ Timestamp: new Date(NOW + 1000) });
    for (const late of [sixHoursAgo, future]) {
      const err = await failure(meter([record(), late]));
      expect(err.name).to.equal('TimestampOutOfBoundsException');
    }
    expect(await control.accepted()).to.deep.equal([]);

    const justInside = record({ Timestamp: new Date(NOW - 6 * HOUR + 1000) });
    expect((await meter([justInside])).Results?.[0].Status).to.equal('Success');
  });

  it('throttles beyond 10 calls per second and recovers as the second passes', async () => {
    const calls = await Promise.allSettled(
      Array.from({ length: 11 }, (_, i) => meter([record({ Dimension: `t${i}` })])),
    );
    const throttled = calls.filter((c) => c.status === 'rejected');
    expect(throttled).to.have.length(1);
    expect(((throttled[0] as PromiseRejectedResult).reason as Error).name).to.equal('ThrottlingException');

    clock += 100;
    expect((await meter([record({ Dimension: 'after' })])).Results?.[0].Status).to.equal('Success');
    expect(await control.stats()).to.include({ calls: 12, throttled: 1 });
  });

  it('injects throttling, internal errors and unprocessed records behind the test switch', async () => {
    await control.setFaults({ throttle: 1, internalError: 1, unprocessed: 1 });

    expect((await failure(meter([record()]))).name).to.equal('ThrottlingException');
    const internal = await failure(meter([record()]));
    expect(internal.name).to.equal('InternalServiceErrorException');
    expect(internal.$metadata?.httpStatusCode).to.equal(500);
    const records = [0, 1, 2, 3].map((i) => record({ Dimension: `u${i}` }));
    const partial = await meter(records);
    expect(partial.Results?.map((r) => r.UsageRecord?.Dimension)).to.deep.equal(['u0', 'u2']);
    expect(partial.UnprocessedRecords?.map((r) => r.Dimension)).to.deep.equal(['u1', 'u3']);

    const retried = await meter(partial.UnprocessedRecords ?? []);
    expect(retried.Results?.map((r) => r.Status)).to.deep.equal(['Success', 'Success']);
    expect((await control.accepted()).map((r) => r.dimension).sort()).to.deep.equal(['u0', 'u1', 'u2', 'u3']);
  });

  it('bills legacy customers per product: ProductCode required, and never with LicenseArn', async () => {
    await control.registerSubscription({ CustomerIdentifier: 'cust-1', ProductCode: PRODUCT });
    const legacy: UsageRecord = {
      Timestamp: new Date(NOW - HOUR),
      Dimension: 'api_calls',
      Quantity: 3,
      CustomerIdentifier: 'cust-1',
    };

    expect((await failure(meter([legacy]))).name).to.equal('InvalidProductCodeException');
    expect((await failure(meter([legacy], 'unknownproduct'))).name).to.equal('InvalidProductCodeException');
    expect((await failure(meter([record()], PRODUCT))).name).to.equal('ValidationException');
    expect((await meter([legacy], PRODUCT)).Results?.[0].Status).to.equal('Success');
    expect((await control.accepted())[0]).to.include({ customerIdentifier: 'cust-1', productCode: PRODUCT });
  });

  it('refuses a record naming both kinds of customer, or an account without its license', async () => {
    expect((await failure(meter([record({ CustomerIdentifier: 'cust-1' })]))).name).to.equal(
      'ValidationException',
    );
    expect((await failure(meter([record({ LicenseArn: undefined })]))).name).to.equal(
      'InvalidLicenseException',
    );
    expect((await failure(meter([record({ LicenseArn: 'not-an-arn' })]))).name).to.equal(
      'InvalidLicenseException',
    );
  });

  it('registers many subscriptions in one control call, once each', async () => {
    const more = ['444455556666', '777788889999'].map((id) => ({
      CustomerAWSAccountId: id,
      LicenseArn: LICENSE,
    }));
    await control.registerSubscriptions([...more, more[0]]);

    expect(await control.subscriptions()).to.deep.equal([
      { CustomerAWSAccountId: ACCOUNT, LicenseArn: LICENSE },
      ...more,
    ]);
    expect((await meter([record({ CustomerAWSAccountId: '777788889999' })])).Results?.[0].Status).to.equal(
      'Success',
    );
  });

  it('keeps subscriptions and accepted records across a restart, still idempotent', async () => {
    const first = await meter([record()]);
    await stop();
    await start();

    expect(await control.subscriptions()).to.deep.equal([
      { CustomerAWSAccountId: ACCOUNT, LicenseArn: LICENSE },
    ]);
    const again = await meter([record()]);
    expect(again.Results?.[0].MeteringRecordId).to.equal(first.Results?.[0].MeteringRecordId);
    expect((await meter([record({ Quantity: 99 })])).Results?.[0].Status).to.equal('DuplicateRecord');
    expect(await control.accepted()).to.have.length(1);
  });
});
