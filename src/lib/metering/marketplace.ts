import type {
  BatchMeterUsageCommandInput,
  MarketplaceMeteringClient,
  UsageRecord,
} from '@aws-sdk/client-marketplace-metering';

import { awsErrorName, usageError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import type { DimensionMapping } from '../tenants/tiers.js';
import { HOUR_MS } from './events.js';
import type { MetricRegistry } from './metrics.js';

/**
 * AWS Marketplace Metering, as `metering push` uses it: the dimension mapping, the UsageRecords,
 * the calls' limits and their outcome per record. The rules come from the BatchMeterUsage API
 * reference: at most 25 records and under 1 MB per call, one product per call, a record's
 * Timestamp within the last 6 hours, an identical record is idempotent, the same customer,
 * dimension and hour with another quantity is a DuplicateRecord, and UnprocessedRecords are
 * to be retried.
 */

export const MAX_RECORDS_PER_CALL = 25;
/** "each request must be less than 1 MB in size". */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** "Usage records aren't accepted 6 hours or more after an event." */
export const TIMESTAMP_WINDOW_MS = 6 * HOUR_MS;
/** BatchMeterUsage's quota: 10 requests per second. */
export const DEFAULT_CALLS_PER_SECOND = 10;
/** A UsageRecord's Quantity is an Integer from 0 to 2147483647. */
export const MAX_RECORD_QUANTITY = 2_147_483_647;
const MAX_DIMENSION_LENGTH = 255;

/** Who is billed: the buyer's account and license, or a legacy CustomerIdentifier with its product. */
export interface CustomerRef {
  readonly customerAwsAccountId?: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  /** Legacy buyers only: the product their calls name. */
  readonly productCode?: string;
}

/** One record to meter: who, which dimension, which hour (its start is the Timestamp), how much. */
export interface MeterRecord {
  readonly customer: CustomerRef;
  readonly dimension: string;
  /** Epoch milliseconds of the hour's start: deterministic, never "now". */
  readonly timestampMs: number;
  readonly quantity: number;
}

/**
 * Billable units of a counter: Marketplace quantities are whole numbers, so a fractional counter
 * (storage.gb's hourly peak) is rounded up: part of a GB-hour is billed as one. Rounding is
 * monotone, so a counter that grows never bills fewer units than it did.
 */
export function billableUnits(quantity: number): number {
  if (!Number.isFinite(quantity) || quantity <= 0) return 0;
  return Math.ceil(quantity - 1e-9);
}

/** Why a tier's mapping is unusable, or undefined when it is fine. */
export function dimensionMappingProblem(
  mapping: readonly DimensionMapping[],
  registry: MetricRegistry,
): string | undefined {
  const metrics = new Set<string>();
  const dimensions = new Set<string>();
  for (const { metric, dimension } of mapping) {
    if (!registry.get(metric)) {
      return `metric "${metric}" is not a known metric (${registry.names().join(', ')})`;
    }
    if (
      typeof dimension !== 'string' ||
      dimension.length < 1 ||
      dimension.length > MAX_DIMENSION_LENGTH ||
      dimension.trim() !== dimension
    ) {
      return `dimension ${JSON.stringify(dimension)} of ${metric} must be 1-${MAX_DIMENSION_LENGTH} characters without surrounding spaces (a dimension of the Marketplace product)`;
    }
    if (metrics.has(metric)) return `metric "${metric}" is mapped twice (one dimension per metric)`;
    if (dimensions.has(dimension)) {
      return `dimension "${dimension}" is mapped from two metrics (one metric per dimension, so each unit is attributed to one counter)`;
    }
    metrics.add(metric);
    dimensions.add(dimension);
  }
  return undefined;
}

/** The mapping of a tier, checked: a usage error (exit 2) names the tier and the rule. */
export function assertDimensionMapping(
  tier: string,
  mapping: readonly DimensionMapping[],
  registry: MetricRegistry,
): readonly DimensionMapping[] {
  const problem = dimensionMappingProblem(mapping, registry);
  if (problem) {
    throw usageError(
      'INVALID_DIMENSION_MAPPING',
      `Tier "${tier}" has an invalid Marketplace dimension mapping: ${problem}.`,
      [`Fix the tier's "dimensions" list in the tier catalog (PK TIER#${tier}).`],
    );
  }
  return mapping;
}

/** The UsageRecord AWS receives for a record. */
export function toUsageRecord(record: MeterRecord): UsageRecord {
  const { customer } = record;
  return {
    Timestamp: new Date(record.timestampMs),
    Dimension: record.dimension,
    Quantity: record.quantity,
    ...(customer.customerIdentifier !== undefined
      ? { CustomerIdentifier: customer.customerIdentifier }
      : { CustomerAWSAccountId: customer.customerAwsAccountId, LicenseArn: customer.licenseArn }),
  };
}

/** Records that may share a call: license records (the LicenseArn names the product), or one legacy product. */
export function productKey(customer: CustomerRef): string {
  return customer.customerIdentifier !== undefined ? `product:${customer.productCode ?? ''}` : 'license';
}

/** The request for a batch: ProductCode only for legacy records (AWS bills twice when both are sent). */
export function batchInput(records: readonly MeterRecord[]): BatchMeterUsageCommandInput {
  const productCode =
    records[0]?.customer.customerIdentifier !== undefined ? records[0].customer.productCode : undefined;
  return {
    UsageRecords: records.map(toUsageRecord),
    ...(productCode !== undefined ? { ProductCode: productCode } : {}),
  };
}

/** Bytes of the request body as the SDK sends it (JSON 1.1: timestamps as epoch seconds). */
export function requestBytes(records: readonly MeterRecord[]): number {
  const input = batchInput(records);
  return Buffer.byteLength(
    JSON.stringify({
      ...input,
      UsageRecords: input.UsageRecords?.map((r) => ({
        ...r,
        Timestamp: (r.Timestamp?.getTime() ?? 0) / 1000,
      })),
    }),
  );
}

export interface BatchLimits {
  readonly maxRecords?: number;
  /** A request must be smaller than this. */
  readonly maxBytes?: number;
}

/**
 * Cuts records into calls: one product per call, at most 25 records, under 1 MB. Order is kept
 * within a product. A record too big for a call on its own is refused (it could never be sent).
 */
export function batchRecords<T extends MeterRecord>(records: readonly T[], limits: BatchLimits = {}): T[][] {
  const maxRecords = limits.maxRecords ?? MAX_RECORDS_PER_CALL;
  const maxBytes = limits.maxBytes ?? MAX_REQUEST_BYTES;
  const byProduct = new Map<string, T[]>();
  for (const record of records) {
    const key = productKey(record.customer);
    byProduct.set(key, [...(byProduct.get(key) ?? []), record]);
  }
  const batches: T[][] = [];
  for (const group of byProduct.values()) {
    let current: T[] = [];
    for (const record of group) {
      const next = [...current, record];
      if (next.length <= maxRecords && requestBytes(next) < maxBytes) {
        current = next;
        continue;
      }
      if (current.length === 0 || requestBytes([record]) >= maxBytes) {
        throw usageError(
          'USAGE_RECORD_TOO_LARGE',
          `A usage record for dimension "${record.dimension}" alone makes a BatchMeterUsage request of ${requestBytes([record])} bytes: a request must be under ${maxBytes} bytes.`,
        );
      }
      batches.push(current);
      current = [record];
    }
    if (current.length > 0) batches.push(current);
  }
  return batches;
}

/** The last word on a record, from AWS (or the decision to stop asking for now). */
export type RecordOutcome =
  | { readonly status: 'ACCEPTED'; readonly meteringRecordId?: string }
  | { readonly status: 'DUPLICATE'; readonly reason: string }
  | { readonly status: 'REJECTED'; readonly reason: string }
  /** Unprocessed or failed until the attempts ran out: it stays SENT, to be sent again as it is. */
  | { readonly status: 'IN_FLIGHT'; readonly reason: string };

export interface BatchReport<T> {
  readonly outcomes: Map<T, RecordOutcome>;
  /** BatchMeterUsage calls made, retries included. */
  readonly calls: number;
  /** Calls refused with ThrottlingException (after the SDK's own retries). */
  readonly throttled: number;
  /** Records AWS returned in UnprocessedRecords (each return counted). */
  readonly unprocessed: number;
  /** Calls that failed with another retryable error. */
  readonly failures: number;
}

export interface MeterOptions {
  /** Waits for the caller's turn under the calls-per-second quota (shared by concurrent batches). */
  readonly pace?: () => Promise<void>;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Attempts per batch for throttling, service errors and unprocessed records. */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

export const DEFAULT_METER_OPTIONS: Required<
  Pick<MeterOptions, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs'>
> = {
  maxAttempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
};

/** Errors worth retrying: the quota, AWS's side, the network. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'InternalServiceErrorException',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);
/** Errors about a record's content: the call is narrowed down until the record is found, and it is REJECTED. */
const RECORD_ERRORS = new Set([
  'InvalidCustomerIdentifierException',
  'InvalidLicenseException',
  'InvalidUsageDimensionException',
  'TimestampOutOfBoundsException',
  'InvalidUsageAllocationsException',
  'InvalidTagException',
  'ValidationException',
]);

/**
 * Sends one batch and returns each record's outcome. Throttling and AWS's own errors retry the
 * batch, UnprocessedRecords retry just those, with capped exponential backoff; when the
 * attempts run out the records are IN_FLIGHT (left SENT, sent again by the next push). A call
 * refused for a record's content is split in halves until the record is alone, which is then
 * REJECTED with the error; the others go through. Any other error (access denied, a product
 * code AWS does not know, the API disabled) concerns every record: it propagates.
 */
export async function meterBatch<T extends MeterRecord>(
  client: MarketplaceMeteringClient,
  records: readonly T[],
  options: MeterOptions = {},
): Promise<BatchReport<T>> {
  const report = {
    outcomes: new Map<T, RecordOutcome>(),
    calls: 0,
    throttled: 0,
    unprocessed: 0,
    failures: 0,
  };
  await meterInto(client, records, { ...DEFAULT_METER_OPTIONS, ...options }, report);
  return report;
}

type Settings = MeterOptions & typeof DEFAULT_METER_OPTIONS;
type MutableReport<T> = {
  outcomes: Map<T, RecordOutcome>;
  calls: number;
  throttled: number;
  unprocessed: number;
  failures: number;
};

async function meterInto<T extends MeterRecord>(
  client: MarketplaceMeteringClient,
  records: readonly T[],
  settings: Settings,
  report: MutableReport<T>,
): Promise<void> {
  const sleep = settings.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let pending = [...records];
  let lastProblem = '';
  for (let attempt = 1; pending.length > 0 && attempt <= settings.maxAttempts; attempt++) {
    if (attempt > 1) {
      await sleep(Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 2)));
    }
    await settings.pace?.();
    report.calls++;
    let output;
    try {
      output = await client.send(new (sdk.marketplace().BatchMeterUsageCommand)(batchInput(pending)));
    } catch (err) {
      const name = errorName(err);
      if (RETRYABLE.has(name) || isServerError(err)) {
        if (name === 'ThrottlingException') report.throttled++;
        else report.failures++;
        lastProblem = `${name}: ${err instanceof Error ? err.message : String(err)}`;
        continue;
      }
      if (RECORD_ERRORS.has(name)) {
        if (pending.length === 1) {
          report.outcomes.set(pending[0], {
            status: 'REJECTED',
            reason: `${name}: ${err instanceof Error ? err.message : String(err)}`,
          });
          return;
        }
        const half = Math.ceil(pending.length / 2);
        await meterInto(client, pending.slice(0, half), settings, report);
        await meterInto(client, pending.slice(half), settings, report);
        return;
      }
      throw err;
    }
    const byKey = new Map(pending.map((record) => [recordKey(toUsageRecord(record)), record]));
    for (const result of output.Results ?? []) {
      const record = result.UsageRecord ? byKey.get(recordKey(result.UsageRecord)) : undefined;
      if (!record) continue;
      byKey.delete(recordKey(result.UsageRecord as UsageRecord));
      report.outcomes.set(record, outcomeOf(result.Status, result.MeteringRecordId));
    }
    const unprocessed = (output.UnprocessedRecords ?? [])
      .map((r) => byKey.get(recordKey(r)))
      .filter((r): r is T => r !== undefined);
    report.unprocessed += unprocessed.length;
    // A record in neither list was not answered for: asked again, like an unprocessed one.
    pending = [...byKey.values()];
    lastProblem = unprocessed.length > 0 ? 'returned in UnprocessedRecords' : 'not answered for';
  }
  for (const record of pending) {
    report.outcomes.set(record, {
      status: 'IN_FLIGHT',
      reason: `${lastProblem} after ${settings.maxAttempts} attempts`,
    });
  }
}

function outcomeOf(status: string | undefined, meteringRecordId: string | undefined): RecordOutcome {
  switch (status) {
    case 'Success':
      return { status: 'ACCEPTED', ...(meteringRecordId ? { meteringRecordId } : {}) };
    case 'DuplicateRecord':
      return {
        status: 'DUPLICATE',
        reason:
          'DuplicateRecord: AWS already holds a record for this customer, dimension and hour with another quantity',
      };
    case 'CustomerNotSubscribed':
      return {
        status: 'REJECTED',
        reason:
          'CustomerNotSubscribed: the customer is not subscribed to the product (or its account is suspended)',
      };
    default:
      return { status: 'REJECTED', reason: `Unknown status ${String(status)}` };
  }
}

/** Matches AWS's echo of a record to ours: customer, dimension and time identify it. */
export function recordKey(record: UsageRecord): string {
  return [
    record.CustomerAWSAccountId ?? '',
    record.LicenseArn ?? '',
    record.CustomerIdentifier ?? '',
    record.Dimension ?? '',
    record.Timestamp ? new Date(record.Timestamp).getTime() : '',
  ].join('\u0000');
}

function errorName(err: unknown): string {
  return awsErrorName(err) ?? (err as NodeJS.ErrnoException)?.code ?? 'Error';
}

function isServerError(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

/**
 * Spaces call starts so that no more than `perSecond` start in any second, for every caller
 * sharing it: concurrent batches use the quota fully and never exceed it.
 */
export function pacer(
  perSecond: number,
  now: () => number = () => performance.now(),
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): () => Promise<void> {
  const interval = 1000 / perSecond;
  let next = -Infinity;
  return async () => {
    const at = Math.max(now(), next);
    next = at + interval;
    const wait = at - now();
    if (wait > 0) await sleep(wait);
  };
}
