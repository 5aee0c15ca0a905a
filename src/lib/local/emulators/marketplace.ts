import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { RunningService } from '../services.js';
import {
  member,
  ServiceError,
  startJsonProtocolServer,
  type JsonObject,
  type OperationHandler,
  type RequestContext,
} from './json-protocol.js';
import type {
  AcceptedRecord,
  EmulatedSubscription,
  MarketplaceFaults,
  MarketplaceStats,
} from './marketplace-control.js';

export interface MarketplaceEmulatorOptions {
  readonly directory: string;
  /** BatchMeterUsage calls per second before ThrottlingException (AWS's quota: 10). */
  readonly requestsPerSecond?: number;
  /** Products that exist (legacy ProductCode); those of registered customers are added. */
  readonly productCodes?: readonly string[];
  /** The emulator's clock (epoch ms), for tests of the timestamp window. */
  readonly now?: () => number;
}

// Limits from the AWS Marketplace Metering Service API reference (BatchMeterUsage, UsageRecord)
// and its quotas page.
const TARGET_PREFIX = 'AWSMPMeteringService';
export const MAX_USAGE_RECORDS = 25;
/** "each request must be less than 1 MB in size". */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** "Usage records aren't accepted 6 hours or more after an event." */
export const TIMESTAMP_WINDOW_MS = 6 * 60 * 60 * 1000;
export const DEFAULT_REQUESTS_PER_SECOND = 10;
const MAX_QUANTITY = 2_147_483_647;
const MAX_ALLOCATIONS = 2500;
const DIGITS = /^[0-9]+$/;
// The License Manager ARN rule (LicenseArn is a License Manager license).
const LICENSE_ARN =
  /^arn:aws(-(cn|us-gov|iso-b|iso-c|iso-d))?:[A-Za-z0-9][A-Za-z0-9_/.-]{0,62}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,1023}$/;
const HOUR_MS = 60 * 60 * 1000;

interface Stats {
  calls: number;
  throttled: number;
  failed: number;
  records: { success: number; duplicate: number; notSubscribed: number; unprocessed: number };
  firstCallAt?: number;
  lastCallAt?: number;
}

interface State {
  readonly version: 1;
  licenses: { accountId: string; licenseArn: string }[];
  customers: { customerIdentifier: string; productCode: string }[];
}

/** A record as BatchMeterUsage received it, checked. */
interface IncomingRecord {
  readonly raw: JsonObject;
  readonly timestampMs: number;
  readonly dimension: string;
  readonly quantity: number;
  readonly customerAwsAccountId?: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
}

/**
 * An AWS Marketplace Metering emulator (`AWSMPMeteringService`, JSON 1.1) serving
 * BatchMeterUsage with what AWS documents: at most 25 records and under 1 MB per call; every
 * timestamp within the last 6 hours and not in the future (TimestampOutOfBoundsException
 * otherwise); a record identical to one already honoured (same customer, dimension, hour and
 * quantity) is an idempotent Success with the first MeteringRecordId; the same customer,
 * dimension and hour with another quantity is DuplicateRecord; a customer that is not
 * subscribed is CustomerNotSubscribed; beyond the 10 requests per second quota,
 * ThrottlingException.
 *
 * What AWS knows without being told (subscriptions) is registered through the control API
 * (marketplace-control.ts), which also injects faults and lists what was accepted. Subscriptions
 * are kept in `directory/marketplace.json`, accepted records appended to `accepted.ndjson` before
 * the call is answered, so both survive a restart (and a crash of the owning process).
 */
export async function startMarketplaceEmulator(options: MarketplaceEmulatorOptions): Promise<RunningService> {
  await mkdir(options.directory, { recursive: true });
  const stateFile = path.join(options.directory, 'marketplace.json');
  const acceptedFile = path.join(options.directory, 'accepted.ndjson');
  const state = (await loadState(stateFile)) ?? { version: 1, licenses: [], customers: [] };
  const accepted = await loadAccepted(acceptedFile);
  const save = async (): Promise<void> => {
    const temp = `${stateFile}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(state, null, 2));
    await rename(temp, stateFile);
  };
  const emulator = new MarketplaceEmulator(
    state,
    accepted,
    save,
    (records) => appendFile(acceptedFile, records.map((r) => `${JSON.stringify(r)}\n`).join('')),
    options.now ?? Date.now,
    options.requestsPerSecond ?? DEFAULT_REQUESTS_PER_SECOND,
    options.productCodes ?? [],
  );
  return startJsonProtocolServer({
    targetPrefix: TARGET_PREFIX,
    operations: { BatchMeterUsage: (input, context) => emulator.batchMeterUsage(input, context) },
    control: emulator.controlOperations(),
    internalFailureType: 'InternalServiceErrorException',
  });
}

class MarketplaceEmulator {
  /** Honoured records by (product or license, customer, dimension, hour). */
  private readonly honoured = new Map<string, AcceptedRecord>();
  private faults: Required<Omit<MarketplaceFaults, 'requestsPerSecond'>> = {
    throttle: 0,
    internalError: 0,
    unprocessed: 0,
  };
  private stats: Stats = emptyStats();
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly state: State,
    private readonly accepted: AcceptedRecord[],
    private readonly save: () => Promise<void>,
    private readonly append: (records: readonly AcceptedRecord[]) => Promise<void>,
    private readonly now: () => number,
    private requestsPerSecond: number,
    private readonly productCodes: readonly string[],
  ) {
    for (const record of accepted) this.honoured.set(keyOfAccepted(record), record);
    this.tokens = requestsPerSecond;
    this.refilledAt = now();
  }

  async batchMeterUsage(input: JsonObject, context: RequestContext): Promise<unknown> {
    this.stats.calls++;
    if (this.injected('throttle') || !this.takeToken()) {
      this.stats.throttled++;
      throw new ServiceError('ThrottlingException', 'Rate exceeded');
    }
    this.stats.firstCallAt ??= this.now();
    this.stats.lastCallAt = this.now();
    try {
      if (this.injected('internalError')) {
        throw new ServiceError(
          'InternalServiceErrorException',
          'An internal error has occurred (injected)',
          500,
        );
      }
      return await this.meter(input, context);
    } catch (error) {
      this.stats.failed++;
      throw error;
    }
  }

  /** Counts down an injected fault; true when this call gets it. */
  private injected(fault: 'throttle' | 'internalError' | 'unprocessed'): boolean {
    if (this.faults[fault] <= 0) return false;
    this.faults = { ...this.faults, [fault]: this.faults[fault] - 1 };
    return true;
  }

  controlOperations(): Readonly<Record<string, OperationHandler>> {
    return {
      RegisterSubscription: async (input) => {
        this.register(readSubscription(input));
        await this.save();
        return {};
      },
      RegisterSubscriptions: async (input) => {
        for (const item of member.optionalList(input, 'Subscriptions') ?? []) {
          this.register(readSubscription((item ?? {}) as JsonObject));
        }
        await this.save();
        return {};
      },
      DeregisterSubscription: async (input) => {
        const subscription = readSubscription(input);
        if ('LicenseArn' in subscription) {
          this.state.licenses = this.state.licenses.filter(
            (l) =>
              l.accountId !== subscription.CustomerAWSAccountId || l.licenseArn !== subscription.LicenseArn,
          );
        } else {
          this.state.customers = this.state.customers.filter(
            (c) =>
              c.customerIdentifier !== subscription.CustomerIdentifier ||
              c.productCode !== subscription.ProductCode,
          );
        }
        await this.save();
        return {};
      },
      ListSubscriptions: () => ({
        Subscriptions: [
          ...this.state.licenses.map((l) => ({
            CustomerAWSAccountId: l.accountId,
            LicenseArn: l.licenseArn,
          })),
          ...this.state.customers.map((c) => ({
            CustomerIdentifier: c.customerIdentifier,
            ProductCode: c.productCode,
          })),
        ],
      }),
      SetFaults: (input) => {
        const count = (name: keyof MarketplaceFaults): number | undefined =>
          member.optionalInteger(input, name, 0, 1_000_000);
        this.faults = {
          throttle: count('throttle') ?? this.faults.throttle,
          internalError: count('internalError') ?? this.faults.internalError,
          unprocessed: count('unprocessed') ?? this.faults.unprocessed,
        };
        const rate = count('requestsPerSecond');
        if (rate !== undefined) {
          if (rate < 1) throw new ServiceError('ValidationException', 'requestsPerSecond must be at least 1');
          this.requestsPerSecond = rate;
          this.tokens = Math.min(this.tokens, rate);
        }
        return {};
      },
      ListAccepted: () => ({ Records: this.accepted }),
      GetStats: (): MarketplaceStats => this.stats,
      ResetStats: () => {
        this.stats = emptyStats();
        return {};
      },
    };
  }

  private register(subscription: EmulatedSubscription): void {
    if ('LicenseArn' in subscription) {
      const { CustomerAWSAccountId: accountId, LicenseArn: licenseArn } = subscription;
      if (!this.state.licenses.some((l) => l.accountId === accountId && l.licenseArn === licenseArn)) {
        this.state.licenses.push({ accountId, licenseArn });
      }
    } else {
      const { CustomerIdentifier: customerIdentifier, ProductCode: productCode } = subscription;
      if (!this.hasCustomer(customerIdentifier, productCode)) {
        this.state.customers.push({ customerIdentifier, productCode });
      }
    }
  }

  /** A token bucket holding one second of the quota: bursts up to the quota, then its rate. */
  private takeToken(): boolean {
    const now = this.now();
    this.tokens = Math.min(
      this.requestsPerSecond,
      this.tokens + ((now - this.refilledAt) / 1000) * this.requestsPerSecond,
    );
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private async meter(input: JsonObject, context: RequestContext): Promise<unknown> {
    if (context.bodyBytes >= MAX_REQUEST_BYTES) {
      throw new ServiceError(
        'ValidationException',
        `The request is ${context.bodyBytes} bytes: a BatchMeterUsage request must be less than 1 MB.`,
      );
    }
    const list = member.optionalList(input, 'UsageRecords');
    if (list === undefined) throw invalid('usageRecords', 'Member must not be null');
    if (list.length > MAX_USAGE_RECORDS) {
      throw invalid('usageRecords', `Member must have length less than or equal to ${MAX_USAGE_RECORDS}`);
    }
    const productCode = member.optionalString(input, 'ProductCode');
    if (productCode !== undefined && (productCode.length < 1 || productCode.length > 255)) {
      throw invalid('productCode', 'Member must have length between 1 and 255');
    }
    const records = list.map((item, i) => readRecord(item, i));
    this.checkProduct(records, productCode);
    this.checkTimestamps(records);

    const now = new Date(this.now()).toISOString();
    const results: object[] = [];
    const unprocessed: JsonObject[] = [];
    const honoured: AcceptedRecord[] = [];
    const leaveUnprocessed = records.length > 1 && this.injected('unprocessed');
    records.forEach((record, i) => {
      if (leaveUnprocessed && i % 2 === 1) {
        this.stats.records.unprocessed++;
        unprocessed.push(record.raw);
        return;
      }
      const key = keyOf(record, productCode);
      const previous = this.honoured.get(key) ?? honoured.find((h) => keyOfAccepted(h) === key);
      if (!this.isSubscribed(record, productCode)) {
        this.stats.records.notSubscribed++;
        results.push({ UsageRecord: record.raw, Status: 'CustomerNotSubscribed' });
      } else if (previous && previous.quantity !== record.quantity) {
        this.stats.records.duplicate++;
        results.push({ UsageRecord: record.raw, Status: 'DuplicateRecord' });
      } else if (previous) {
        // An identical record: idempotent, billed once.
        this.stats.records.success++;
        results.push({
          UsageRecord: record.raw,
          MeteringRecordId: previous.meteringRecordId,
          Status: 'Success',
        });
      } else {
        const stored: AcceptedRecord = {
          meteringRecordId: randomUUID(),
          ...(record.customerAwsAccountId ? { customerAwsAccountId: record.customerAwsAccountId } : {}),
          ...(record.licenseArn ? { licenseArn: record.licenseArn } : {}),
          ...(record.customerIdentifier ? { customerIdentifier: record.customerIdentifier } : {}),
          ...(productCode ? { productCode } : {}),
          dimension: record.dimension,
          timestamp: new Date(record.timestampMs).toISOString(),
          quantity: record.quantity,
          acceptedAt: now,
        };
        honoured.push(stored);
        this.stats.records.success++;
        results.push({
          UsageRecord: record.raw,
          MeteringRecordId: stored.meteringRecordId,
          Status: 'Success',
        });
      }
    });
    // Durable before the answer: a record AWS said it honoured is never forgotten.
    if (honoured.length > 0) {
      await this.append(honoured);
      for (const record of honoured) {
        this.honoured.set(keyOfAccepted(record), record);
        this.accepted.push(record);
      }
    }
    return { Results: results, UnprocessedRecords: unprocessed };
  }

  /** One product per request: license records carry it in LicenseArn, legacy ones need ProductCode. */
  private checkProduct(records: readonly IncomingRecord[], productCode: string | undefined): void {
    const legacy = records.some((r) => r.customerIdentifier !== undefined);
    if (legacy && productCode === undefined) {
      throw new ServiceError(
        'InvalidProductCodeException',
        'ProductCode is required with CustomerIdentifier records (legacy integrations).',
      );
    }
    if (productCode !== undefined && records.some((r) => r.licenseArn !== undefined)) {
      // AWS bills such records twice; the emulator refuses them so the mistake shows locally.
      throw new ServiceError(
        'ValidationException',
        'Do not send ProductCode with LicenseArn records: the LicenseArn identifies the product and agreement.',
      );
    }
    if (
      productCode !== undefined &&
      !this.productCodes.includes(productCode) &&
      !this.state.customers.some((c) => c.productCode === productCode)
    ) {
      throw new ServiceError(
        'InvalidProductCodeException',
        `The product code ${productCode} does not match a product.`,
      );
    }
  }

  private checkTimestamps(records: readonly IncomingRecord[]): void {
    const now = this.now();
    for (const record of records) {
      if (record.timestampMs > now || now - record.timestampMs >= TIMESTAMP_WINDOW_MS) {
        throw new ServiceError(
          'TimestampOutOfBoundsException',
          `Timestamp ${new Date(record.timestampMs).toISOString()} is out of the allowed range: usage is accepted for up to 6 hours after it happened, and not for the future.`,
        );
      }
    }
  }

  private isSubscribed(record: IncomingRecord, productCode: string | undefined): boolean {
    if (record.customerIdentifier !== undefined) {
      return productCode !== undefined && this.hasCustomer(record.customerIdentifier, productCode);
    }
    return this.state.licenses.some(
      (l) => l.accountId === record.customerAwsAccountId && l.licenseArn === record.licenseArn,
    );
  }

  private hasCustomer(customerIdentifier: string, productCode: string): boolean {
    return this.state.customers.some(
      (c) => c.customerIdentifier === customerIdentifier && c.productCode === productCode,
    );
  }
}

function readRecord(item: unknown, index: number): IncomingRecord {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new ServiceError('SerializationException', `usageRecords.${index + 1} must be an object`);
  }
  const raw = item as JsonObject;
  const at = `usageRecords.${index + 1}.member`;
  const timestamp = raw.Timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw invalid(`${at}.timestamp`, 'Member must not be null');
  }
  const dimension = member.optionalString(raw, 'Dimension');
  if (dimension === undefined) throw invalid(`${at}.dimension`, 'Member must not be null');
  if (dimension.length < 1 || dimension.length > 255) {
    throw invalid(`${at}.dimension`, 'Member must have length between 1 and 255');
  }
  const quantity = member.optionalInteger(raw, 'Quantity', 0, MAX_QUANTITY) ?? 0;
  const customerIdentifier = member.optionalString(raw, 'CustomerIdentifier');
  const customerAwsAccountId = member.optionalString(raw, 'CustomerAWSAccountId');
  const licenseArn = member.optionalString(raw, 'LicenseArn');
  if (customerIdentifier !== undefined && customerAwsAccountId !== undefined) {
    throw new ServiceError(
      'ValidationException',
      'CustomerIdentifier and CustomerAWSAccountId are mutually exclusive: specify one per usage record.',
    );
  }
  if (customerIdentifier === undefined && customerAwsAccountId === undefined) {
    throw new ServiceError(
      'InvalidCustomerIdentifierException',
      'A usage record needs CustomerAWSAccountId (with LicenseArn) or CustomerIdentifier.',
    );
  }
  if (customerIdentifier !== undefined && customerIdentifier.length > 255) {
    throw invalid(`${at}.customerIdentifier`, 'Member must have length less than or equal to 255');
  }
  if (customerAwsAccountId !== undefined) {
    if (!DIGITS.test(customerAwsAccountId) || customerAwsAccountId.length > 255) {
      throw invalid(`${at}.customerAWSAccountId`, 'Member must satisfy regular expression pattern: ^[0-9]+$');
    }
    if (licenseArn === undefined) {
      throw new ServiceError('InvalidLicenseException', 'LicenseArn is required with CustomerAWSAccountId.');
    }
  }
  if (licenseArn !== undefined && (licenseArn.length > 2048 || !LICENSE_ARN.test(licenseArn))) {
    throw new ServiceError('InvalidLicenseException', `${licenseArn} is not a valid license ARN.`);
  }
  checkAllocations(raw, quantity, at);
  return {
    raw,
    timestampMs: timestamp * 1000,
    dimension,
    quantity,
    ...(customerIdentifier !== undefined ? { customerIdentifier } : {}),
    ...(customerAwsAccountId !== undefined ? { customerAwsAccountId } : {}),
    ...(licenseArn !== undefined ? { licenseArn } : {}),
  };
}

/** "The sum of all UsageAllocation quantities must equal the Quantity of the UsageRecord." */
function checkAllocations(raw: JsonObject, quantity: number, at: string): void {
  const allocations = member.optionalList(raw, 'UsageAllocations');
  if (allocations === undefined) return;
  if (allocations.length < 1 || allocations.length > MAX_ALLOCATIONS) {
    throw new ServiceError(
      'InvalidUsageAllocationsException',
      `${at}: a record has 1 to ${MAX_ALLOCATIONS} usage allocations.`,
    );
  }
  let sum = 0;
  for (const allocation of allocations) {
    const amount =
      typeof allocation === 'object' && allocation !== null
        ? (allocation as JsonObject).AllocatedUsageQuantity
        : undefined;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 0) {
      throw new ServiceError(
        'InvalidUsageAllocationsException',
        `${at}: AllocatedUsageQuantity must be set.`,
      );
    }
    sum += amount;
  }
  if (sum !== quantity) {
    throw new ServiceError(
      'InvalidUsageAllocationsException',
      `${at}: the usage allocations add up to ${sum}, not the record's Quantity ${quantity}.`,
    );
  }
}

function readSubscription(input: JsonObject): EmulatedSubscription {
  const accountId = member.optionalString(input, 'CustomerAWSAccountId');
  const licenseArn = member.optionalString(input, 'LicenseArn');
  const customer = member.optionalString(input, 'CustomerIdentifier');
  const productCode = member.optionalString(input, 'ProductCode');
  if (accountId !== undefined && licenseArn !== undefined && customer === undefined) {
    if (!DIGITS.test(accountId)) throw invalid('CustomerAWSAccountId', 'must be digits');
    if (!LICENSE_ARN.test(licenseArn))
      throw new ServiceError('InvalidLicenseException', 'Invalid LicenseArn');
    return { CustomerAWSAccountId: accountId, LicenseArn: licenseArn };
  }
  if (customer !== undefined && productCode !== undefined && accountId === undefined) {
    return { CustomerIdentifier: customer, ProductCode: productCode };
  }
  throw new ServiceError(
    'ValidationException',
    'A subscription is CustomerAWSAccountId with LicenseArn, or CustomerIdentifier with ProductCode.',
  );
}

function keyOf(record: IncomingRecord, productCode: string | undefined): string {
  const hour = Math.floor(record.timestampMs / HOUR_MS);
  return record.licenseArn !== undefined
    ? `L\u0000${record.licenseArn}\u0000${record.customerAwsAccountId ?? ''}\u0000${record.dimension}\u0000${hour}`
    : `C\u0000${productCode ?? ''}\u0000${record.customerIdentifier ?? ''}\u0000${record.dimension}\u0000${hour}`;
}

function keyOfAccepted(record: AcceptedRecord): string {
  const hour = Math.floor(Date.parse(record.timestamp) / HOUR_MS);
  return record.licenseArn !== undefined
    ? `L\u0000${record.licenseArn}\u0000${record.customerAwsAccountId ?? ''}\u0000${record.dimension}\u0000${hour}`
    : `C\u0000${record.productCode ?? ''}\u0000${record.customerIdentifier ?? ''}\u0000${record.dimension}\u0000${hour}`;
}

function invalid(name: string, constraint: string): ServiceError {
  return new ServiceError(
    'ValidationException',
    `1 validation error detected: Value at '${name}' failed to satisfy constraint: ${constraint}`,
  );
}

function emptyStats(): Stats {
  return {
    calls: 0,
    throttled: 0,
    failed: 0,
    records: { success: 0, duplicate: 0, notSubscribed: 0, unprocessed: 0 },
  };
}

async function loadState(file: string): Promise<State | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as State;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The accepted log, one record per line; a line cut short by a crash mid-append is dropped. */
async function loadAccepted(file: string): Promise<AcceptedRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: AcceptedRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as AcceptedRecord);
    } catch {
      // The torn last line of a crashed append: its call was never answered.
    }
  }
  return records;
}
