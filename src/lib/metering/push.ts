import { randomBytes } from 'node:crypto';

import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';

import { conflict, usageError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import type { Tenant } from '../tenants/model.js';
import { subscriptionOf } from '../tenants/subscription.js';
import type { Tier } from '../tenants/tiers.js';
import type { UsageCounter, UsageCounters } from './counters.js';
import { HOUR_MS, hourOfDate, hoursBetween, hourStart } from './events.js';
import type { LedgerRecord, MarketplaceLedger } from './ledger.js';
import {
  assertDimensionMapping,
  batchInput,
  batchRecords,
  DEFAULT_CALLS_PER_SECOND,
  meterBatch,
  pacer,
  type CustomerRef,
  type MeterOptions,
  type MeterRecord,
  type RecordOutcome,
} from './marketplace.js';
import type { MetricRegistry } from './metrics.js';
import {
  planPush,
  windowHours,
  RESEND_MARGIN_MS,
  type CarriedUsage,
  type CounterCell,
  type OverBilled,
  type OwedUsage,
  type Subscriber,
} from './push-plan.js';
import type { HourKey } from './types.js';

/**
 * `metering push`: bills the closed hours' usage of every tenant with a Marketplace subscription
 * through BatchMeterUsage, exactly once. Ledger first: the plan is written PENDING, each batch
 * SENT just before its call and ACCEPTED, DUPLICATE or REJECTED from its result, so a crash at
 * any point leaves records that the next push sends again as they are (AWS takes an identical
 * record as the same one) and never plans the same units twice.
 */

/** Where the test switch SAASCTL_TEST_CRASH_AT=<point>[:<n>] kills the process (at the n-th time, default 1st). */
export const CRASH_POINTS = ['after-pending', 'after-sent', 'after-call', 'between-batches'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** Hours a default push looks back from its previous run, for counters that grew late. */
export const DEFAULT_LOOKBACK_HOURS = 24;
export const DEFAULT_PUSH_CONCURRENCY = 4;
/**
 * Periods of up to this many hours (an hourly push, --hour) read counters by key, 100 per
 * BatchGetItem; longer ones Query each tenant's metrics over the period, which reads fewer items
 * per request once a (tenant, metric) has more hours than a key read saves requests.
 */
export const KEY_READ_MAX_HOURS = 6;
const LOAD_CONCURRENCY = 16;
const KEYS_PER_READ = 100;
const LEASE_RENEW_MS = 60_000;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

export interface PushRequest {
  /** One closed hour (any ISO 8601 time in it). */
  readonly hour?: string;
  /** Every closed hour from this time's hour on. */
  readonly since?: string;
  readonly dryRun?: boolean;
  /** Batches in flight at once (the calls-per-second pacing is shared). */
  readonly concurrency?: number;
}

export interface PushDependencies {
  readonly ledger: Pick<
    MarketplaceLedger,
    'list' | 'put' | 'remove' | 'acquire' | 'renew' | 'release' | 'lastCompleted' | 'recordCompleted'
  >;
  readonly counters: Pick<UsageCounters, 'list' | 'getMany'>;
  readonly tenants: () => Promise<readonly Tenant[]>;
  readonly tiers: () => Promise<readonly Tier[]>;
  readonly registry: MetricRegistry;
  readonly marketplace: () => MarketplaceMeteringClient;
  /** The product of legacy (CustomerIdentifier) buyers. */
  readonly productCode?: string;
  readonly reporter?: Reporter;
  readonly now?: () => Date;
  readonly isAlive?: (pid: number) => boolean;
  /** The test switch: called at each crash point. */
  readonly crash?: (point: CrashPoint) => void;
  readonly callsPerSecond?: number;
  readonly meter?: MeterOptions;
}

export interface PushedRecord {
  readonly tenantId: string;
  readonly dimension: string;
  readonly hour: HourKey;
  readonly timestamp: string;
  readonly quantity: number;
  readonly customer: CustomerRef;
  readonly covers: Readonly<Record<string, number>>;
  readonly state: LedgerRecord['state'];
  readonly reason?: string;
  readonly meteringRecordId?: string;
  /** Left PENDING or SENT by an earlier push and sent again as it was. */
  readonly resent: boolean;
}

/** One BatchMeterUsage request exactly as a dry run would send it (timestamps in ISO 8601). */
export interface PushRequestView {
  readonly ProductCode?: string;
  readonly UsageRecords: readonly {
    readonly Timestamp: string;
    readonly Dimension: string;
    readonly Quantity: number;
    readonly CustomerAWSAccountId?: string;
    readonly LicenseArn?: string;
    readonly CustomerIdentifier?: string;
  }[];
}

export interface PushResult {
  readonly dryRun: boolean;
  readonly runId?: string;
  /** The counters' hours considered. */
  readonly period: { readonly from: HourKey; readonly to: HourKey };
  /** The hours new records could be for (closed, inside AWS's 6-hour window). */
  readonly window?: { readonly from: HourKey; readonly to: HourKey };
  readonly tenants: {
    readonly subscribed: number;
    /** Subscribed tenants whose tier has no dimension mapping: not billed. */
    readonly unmapped: readonly string[];
    /** Legacy buyers while the platform has no Marketplace product code: not billed. */
    readonly noProductCode: readonly string[];
    /** Tenants sharing one buyer's subscription: their records would collide, so none is billed. */
    readonly sharedSubscription: readonly string[];
  };
  readonly records: readonly PushedRecord[];
  /** Dry run: the requests that would be sent. */
  readonly requests?: readonly PushRequestView[];
  readonly calls: number;
  readonly throttled: number;
  readonly unprocessed: number;
  readonly totals: {
    readonly records: number;
    readonly accepted: number;
    readonly duplicate: number;
    readonly rejected: number;
    /** Left SENT (attempts ran out): the next push sends them again. */
    readonly inFlight: number;
    readonly unitsAccepted: number;
  };
  readonly carried: readonly CarriedUsage[];
  readonly deferred: readonly OwedUsage[];
  readonly overBilled: readonly OverBilled[];
  /** SENT records outside AWS's window: whether AWS holds them cannot be known from here. */
  readonly unresolved: readonly PushedRecord[];
  /** PENDING records that fell out of the window unsent, removed and planned again. */
  readonly expired: number;
  readonly elapsedMs: number;
  /** Where the time went: reading counters and ledger, writing the plan, sending (calls and their ledger writes). */
  readonly timings: { readonly readMs: number; readonly planWriteMs: number; readonly sendMs: number };
}

/** SAASCTL_TEST_CRASH_AT, checked (a typo must fail the test, not pass it silently). */
export function crashSwitch(
  spec: string | undefined,
  die: () => void = () => process.kill(process.pid, 'SIGKILL'),
): ((point: CrashPoint) => void) | undefined {
  if (spec === undefined || spec === '') return undefined;
  const [point, nth = '1'] = spec.split(':');
  if (!(CRASH_POINTS as readonly string[]).includes(point) || !/^[1-9]\d*$/.test(nth)) {
    throw usageError(
      'INVALID_CRASH_POINT',
      `Invalid SAASCTL_TEST_CRASH_AT "${spec}": expected <point>[:<n>] with point one of ${CRASH_POINTS.join(', ')}.`,
    );
  }
  let seen = 0;
  return (at) => {
    if (at === point && ++seen === Number(nth)) die();
  };
}

/** The counters' hours a push considers: `--hour`, `--since`, or the default look-back. */
export function pushPeriod(
  request: Pick<PushRequest, 'hour' | 'since'>,
  now: Date,
  lastCompleted?: Date,
): { from: HourKey; to: HourKey } {
  const currentStart = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  const lastClosed = hourOfDate(new Date(currentStart - HOUR_MS));
  if (request.hour !== undefined && request.since !== undefined) {
    throw usageError('PERIOD_CONFLICT', 'Give either --hour or --since, not both.');
  }
  if (request.hour !== undefined) {
    const at = parseTime(request.hour, '--hour');
    if (at >= currentStart) {
      throw usageError(
        'HOUR_NOT_CLOSED',
        `--hour ${request.hour} is not a closed hour: only hours before the current one (${hourOfDate(now)}) are pushed.`,
      );
    }
    const hour = hourOfDate(new Date(at));
    return { from: hour, to: hour };
  }
  if (request.since !== undefined) {
    const at = parseTime(request.since, '--since');
    if (at >= currentStart) {
      throw usageError(
        'NOTHING_CLOSED',
        `--since ${request.since} leaves no closed hour: it must be before the current hour (${hourOfDate(now)}).`,
      );
    }
    return { from: hourOfDate(new Date(at)), to: lastClosed };
  }
  const base = Math.min(now.getTime(), lastCompleted?.getTime() ?? now.getTime());
  return { from: hourOfDate(new Date(base - DEFAULT_LOOKBACK_HOURS * HOUR_MS)), to: lastClosed };
}

function parseTime(text: string, flag: string): number {
  const at = ISO_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) {
    throw usageError(
      'INVALID_TIME',
      `Invalid ${flag} "${text}": expected an ISO 8601 time such as 2026-11-27T10:00:00Z.`,
    );
  }
  return at;
}

interface Work extends MeterRecord {
  readonly record: LedgerRecord;
  readonly resent: boolean;
}

export async function pushUsage(deps: PushDependencies, request: PushRequest): Promise<PushResult> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const concurrency = request.concurrency ?? DEFAULT_PUSH_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) {
    throw usageError(
      'INVALID_CONCURRENCY',
      `Invalid concurrency ${concurrency}: a whole number from 1 to 32.`,
    );
  }
  if (request.hour !== undefined || request.since !== undefined) pushPeriod(request, startedAt);
  const runId = `push-${startedAt.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
  const lease = request.dryRun
    ? undefined
    : await deps.ledger.acquire(runId, startedAt.getTime(), deps.isAlive ?? isAlive);
  let leaseLost = false;
  const renewal = lease
    ? setInterval(() => {
        deps.ledger.renew(lease, Date.now()).then(
          (held) => (leaseLost ||= !held),
          () => undefined,
        );
      }, LEASE_RENEW_MS)
    : undefined;
  renewal?.unref();
  try {
    const period = pushPeriod(request, startedAt, await deps.ledger.lastCompleted());
    const loaded = await loadSubscribers(deps);
    const windowStart = windowHours(startedAt, RESEND_MARGIN_MS)[0] ?? period.from;
    const ledgerFrom = windowStart < period.from ? windowStart : period.from;
    const currentHour = hourOfDate(startedAt);
    const step = deps.reporter?.step(`read usage of ${loaded.subscribers.length} subscribed tenants`);
    const [counters, ledger] = await Promise.all([
      readCounters(deps.counters, loaded.subscribers, period),
      mapLimit(loaded.subscribers, LOAD_CONCURRENCY, (s) =>
        deps.ledger.list({ tenantId: s.tenantId, from: ledgerFrom, to: currentHour }),
      ),
    ]);
    step?.done(
      `${counters.reduce((n, c) => n + c.length, 0)} counters, ${ledger.reduce((n, l) => n + l.length, 0)} ledger records`,
    );
    const readAt = now().getTime();
    const plan = planPush({
      now: startedAt,
      from: period.from,
      to: period.to,
      subscribers: loaded.subscribers,
      counters: new Map(loaded.subscribers.map((s, i) => [s.tenantId, counters[i]])),
      ledger: new Map(loaded.subscribers.map((s, i) => [s.tenantId, ledger[i]])),
      runId,
    });
    const work: Work[] = [
      ...plan.resend.map((record) => toWork(record, true)),
      ...plan.records.map((record) => toWork(record, false)),
    ];
    const batches = batchRecords(work);
    const base = {
      dryRun: Boolean(request.dryRun),
      period,
      ...(plan.window ? { window: plan.window } : {}),
      tenants: {
        subscribed: loaded.subscribers.length,
        unmapped: loaded.unmapped,
        noProductCode: loaded.noProductCode,
        sharedSubscription: loaded.sharedSubscription,
      },
      carried: plan.carried,
      deferred: plan.deferred,
      overBilled: plan.overBilled,
      unresolved: plan.unresolved.map((r) => view(r, true)),
      expired: plan.expired.length,
    };
    warnAbout(deps.reporter, loaded, plan.unresolved.length, plan.deferred.length);
    if (request.dryRun) {
      return summarize({
        ...base,
        records: work.map((w) => view(w.record, w.resent)),
        requests: batches.map((batch) => requestView(batch)),
        calls: 0,
        throttled: 0,
        unprocessed: 0,
        elapsedMs: now().getTime() - startedAt.getTime(),
        timings: { readMs: readAt - startedAt.getTime(), planWriteMs: 0, sendMs: 0 },
      });
    }

    if (plan.expired.length > 0) await deps.ledger.remove(plan.expired);
    await deps.ledger.put(plan.records);
    deps.crash?.('after-pending');
    const writtenAt = now().getTime();

    const sent = await sendBatches(deps, batches, concurrency, () => leaseLost);
    if (leaseLost) {
      throw conflict('PUSH_LEASE_LOST', 'Another push took the ledger over while this one ran; it stopped.', [
        'Run the push again: records this one left SENT are sent again as they are.',
      ]);
    }
    await deps.ledger.recordCompleted(runId, startedAt);
    return summarize({
      ...base,
      runId,
      records: work.map((w) => view(sent.final.get(w) ?? w.record, w.resent)),
      calls: sent.calls,
      throttled: sent.throttled,
      unprocessed: sent.unprocessed,
      elapsedMs: now().getTime() - startedAt.getTime(),
      timings: {
        readMs: readAt - startedAt.getTime(),
        planWriteMs: writtenAt - readAt,
        sendMs: now().getTime() - writtenAt,
      },
    });
  } finally {
    if (renewal) clearInterval(renewal);
    if (lease) await deps.ledger.release(lease);
  }
}

interface Sent {
  /** Each record as the ledger holds it after its call. */
  readonly final: Map<Work, LedgerRecord>;
  calls: number;
  throttled: number;
  unprocessed: number;
}

/**
 * Sends the batches, a few at once under one pacer: each batch is written SENT, called, and
 * written with its results. The first failure stops the others from taking new batches (those
 * in flight finish) and is thrown; so is losing the lease.
 */
async function sendBatches(
  deps: PushDependencies,
  batches: readonly Work[][],
  concurrency: number,
  leaseLost: () => boolean,
): Promise<Sent> {
  const now = deps.now ?? (() => new Date());
  const sent: Sent = { final: new Map(), calls: 0, throttled: 0, unprocessed: 0 };
  const pace = pacer(deps.callsPerSecond ?? DEFAULT_CALLS_PER_SECOND);
  const client = deps.marketplace();
  const total = batches.reduce((n, b) => n + b.length, 0);
  let next = 0;
  let done = 0;
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && !leaseLost() && next < batches.length) {
      const batch = batches[next++];
      const at = now().toISOString();
      const inFlight = batch.map((w) => ({
        ...w.record,
        state: 'SENT' as const,
        attempts: w.record.attempts + 1,
        updatedAt: at,
      }));
      await deps.ledger.put(inFlight);
      deps.crash?.('after-sent');
      const report = await meterBatch(client, batch, { ...deps.meter, pace });
      sent.calls += report.calls;
      sent.throttled += report.throttled;
      sent.unprocessed += report.unprocessed;
      deps.crash?.('after-call');
      const resolvedAt = now().toISOString();
      const resolved = batch.map((w, i) => settle(inFlight[i], report.outcomes.get(w), resolvedAt));
      await deps.ledger.put(resolved);
      batch.forEach((w, i) => sent.final.set(w, resolved[i]));
      done += batch.length;
      deps.reporter?.progress?.(`Pushed ${done}/${total} records in ${sent.calls} calls`, done === total);
      deps.crash?.('between-batches');
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, batches.length) }, () =>
      worker().catch((error: unknown) => {
        failure ??= { error };
      }),
    ),
  );
  if (failure) throw failure.error;
  return sent;
}

/** Each subscriber's counters of the period, by key for a few hours, else by query. */
async function readCounters(
  counters: PushDependencies['counters'],
  subscribers: readonly Subscriber[],
  period: { from: HourKey; to: HourKey },
): Promise<CounterCell[][]> {
  const cell = (c: UsageCounter): CounterCell => ({ metric: c.metric, hour: c.hour, quantity: c.quantity });
  const hours = hoursBetween(hourStart(period.from), new Date(hourStart(period.to).getTime() + HOUR_MS));
  if (hours.length > KEY_READ_MAX_HOURS) {
    return mapLimit(subscribers, LOAD_CONCURRENCY, async (s) => {
      const list = await counters.list({
        tenantId: s.tenantId,
        from: period.from,
        to: period.to,
        metrics: s.mapping.map((m) => m.metric),
      });
      return list.map(cell);
    });
  }
  const keys = subscribers.flatMap((s) =>
    s.mapping.flatMap((m) => hours.map((hour) => ({ tenantId: s.tenantId, metric: m.metric, hour }))),
  );
  const chunks: (typeof keys)[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_READ) chunks.push(keys.slice(i, i + KEYS_PER_READ));
  const found = (await mapLimit(chunks, LOAD_CONCURRENCY / 2, (chunk) => counters.getMany(chunk))).flat();
  const byTenant = new Map<string, CounterCell[]>();
  for (const c of found) {
    const cells = byTenant.get(c.tenantId) ?? [];
    cells.push(cell(c));
    byTenant.set(c.tenantId, cells);
  }
  return subscribers.map((s) => byTenant.get(s.tenantId) ?? []);
}

interface Loaded {
  readonly subscribers: Subscriber[];
  readonly unmapped: string[];
  readonly noProductCode: string[];
  readonly sharedSubscription: string[];
}

async function loadSubscribers(deps: PushDependencies): Promise<Loaded> {
  const [tenants, tiers] = await Promise.all([deps.tenants(), deps.tiers()]);
  const tierByName = new Map(tiers.map((t) => [t.name, t]));
  const loaded: Loaded = { subscribers: [], unmapped: [], noProductCode: [], sharedSubscription: [] };
  for (const tenant of tenants) {
    const subscription = subscriptionOf(tenant);
    if (!subscription) continue;
    const tier = tierByName.get(tenant.tier);
    if (!tier?.dimensions) {
      loaded.unmapped.push(tenant.tenantId);
      continue;
    }
    const mapping = assertDimensionMapping(tier.name, tier.dimensions, deps.registry);
    let customer: CustomerRef;
    if (subscription.kind === 'license') {
      customer = { customerAwsAccountId: subscription.accountId, licenseArn: subscription.licenseArn };
    } else if (deps.productCode) {
      customer = { customerIdentifier: subscription.customerIdentifier, productCode: deps.productCode };
    } else {
      loaded.noProductCode.push(tenant.tenantId);
      continue;
    }
    loaded.subscribers.push({ tenantId: tenant.tenantId, customer, mapping });
  }
  // AWS knows buyers, not tenants: two tenants on one subscription would send two records for the
  // same customer, dimension and hour, and the second would be a DuplicateRecord.
  const byBuyer = new Map<string, string[]>();
  for (const { tenantId, customer } of loaded.subscribers) {
    const buyer = [customer.customerAwsAccountId, customer.licenseArn, customer.customerIdentifier].join(
      '\u0000',
    );
    byBuyer.set(buyer, [...(byBuyer.get(buyer) ?? []), tenantId]);
  }
  const shared = new Set([...byBuyer.values()].filter((ids) => ids.length > 1).flat());
  if (shared.size === 0) return loaded;
  return {
    ...loaded,
    subscribers: loaded.subscribers.filter((s) => !shared.has(s.tenantId)),
    sharedSubscription: [...shared].sort(),
  };
}

function warnAbout(
  reporter: Reporter | undefined,
  loaded: Loaded,
  unresolved: number,
  deferred: number,
): void {
  if (!reporter) return;
  if (loaded.unmapped.length > 0) {
    reporter.warn(
      `Not billed: ${loaded.unmapped.length} subscribed tenants whose tier has no Marketplace dimension mapping (${loaded.unmapped.slice(0, 5).join(', ')}${loaded.unmapped.length > 5 ? ', ...' : ''}); run \`saasctl tier seed\` or add one to the tier.`,
    );
  }
  if (loaded.noProductCode.length > 0) {
    reporter.warn(
      `Not billed: ${loaded.noProductCode.length} legacy buyers (--marketplace-customer), since the platform configuration names no Marketplace product code (marketplace.productCode).`,
    );
  }
  if (loaded.sharedSubscription.length > 0) {
    reporter.warn(
      `Not billed: tenants ${loaded.sharedSubscription.join(', ')} share a Marketplace subscription (one buyer, one tenant); give each its own with \`saasctl tenant update\`.`,
    );
  }
  if (unresolved > 0) {
    reporter.warn(
      `${unresolved} records were left SENT and are now outside AWS's 6-hour window: check them against the Marketplace seller reports (or CloudTrail BatchMeterUsage events) and settle them by hand.`,
    );
  }
  if (deferred > 0) {
    reporter.info(
      `${deferred} counters have usage with no open hour in the window yet: the next push bills it.`,
    );
  }
}

function toWork(record: LedgerRecord, resent: boolean): Work {
  return {
    record,
    resent,
    customer: record.customer,
    dimension: record.dimension,
    timestampMs: Date.parse(record.timestamp),
    quantity: record.quantity,
  };
}

function settle(sent: LedgerRecord, outcome: RecordOutcome | undefined, at: string): LedgerRecord {
  const { reason: _reason, ...rest } = sent;
  if (!outcome) return { ...sent, reason: 'no outcome: sent again by the next push', updatedAt: at };
  switch (outcome.status) {
    case 'ACCEPTED':
      return {
        ...rest,
        state: 'ACCEPTED',
        ...(outcome.meteringRecordId ? { meteringRecordId: outcome.meteringRecordId } : {}),
        updatedAt: at,
      };
    case 'DUPLICATE':
    case 'REJECTED':
      return { ...rest, state: outcome.status, reason: outcome.reason, updatedAt: at };
    case 'IN_FLIGHT':
      return { ...rest, state: 'SENT', reason: outcome.reason, updatedAt: at };
  }
}

function view(record: LedgerRecord, resent: boolean): PushedRecord {
  return {
    tenantId: record.tenantId,
    dimension: record.dimension,
    hour: record.hour,
    timestamp: record.timestamp,
    quantity: record.quantity,
    customer: record.customer,
    covers: record.covers,
    state: record.state,
    ...(record.reason ? { reason: record.reason } : {}),
    ...(record.meteringRecordId ? { meteringRecordId: record.meteringRecordId } : {}),
    resent,
  };
}

function requestView(batch: readonly Work[]): PushRequestView {
  const input = batchInput(batch);
  return {
    ...(input.ProductCode ? { ProductCode: input.ProductCode } : {}),
    UsageRecords: (input.UsageRecords ?? []).map((r) => ({
      Timestamp: (r.Timestamp as Date).toISOString(),
      Dimension: r.Dimension as string,
      Quantity: r.Quantity as number,
      ...(r.CustomerAWSAccountId
        ? { CustomerAWSAccountId: r.CustomerAWSAccountId, LicenseArn: r.LicenseArn }
        : {}),
      ...(r.CustomerIdentifier ? { CustomerIdentifier: r.CustomerIdentifier } : {}),
    })),
  };
}

function summarize(result: Omit<PushResult, 'totals'>): PushResult {
  const count = (state: LedgerRecord['state']) => result.records.filter((r) => r.state === state).length;
  return {
    ...result,
    totals: {
      records: result.records.length,
      accepted: count('ACCEPTED'),
      duplicate: count('DUPLICATE'),
      rejected: count('REJECTED'),
      inFlight: result.dryRun ? 0 : count('SENT'),
      unitsAccepted: result.records.filter((r) => r.state === 'ACCEPTED').reduce((n, r) => n + r.quantity, 0),
    },
  };
}

/**
 * Whether a push needs attention (exit 6): refused records, records still in flight, unresolved
 * ones, or tenants not billed because they share a subscription.
 */
export function isPartial(result: PushResult): boolean {
  const { rejected, duplicate, inFlight } = result.totals;
  return (
    rejected + duplicate + inFlight + result.unresolved.length + result.tenants.sharedSubscription.length > 0
  );
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
