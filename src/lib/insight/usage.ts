import { usageError } from '../cli/errors.js';
import type { UsageCounter } from '../metering/counters.js';
import { HOUR_MS, hourOfDate, hourStart } from '../metering/events.js';
import { monthPeriod } from '../metering/export.js';
import type { MetricRegistry } from '../metering/metrics.js';
import type { Aggregation, HourKey } from '../metering/types.js';
import type { PlanLimit, Tier } from '../tenants/tiers.js';

/** Pure usage arithmetic over counters: monthly quantities, days, and plan limits. No AWS here. */

export interface MonthWindow {
  /** YYYY-MM */
  readonly month: string;
  /** First hour, inclusive. */
  readonly from: HourKey;
  /** Last hour, inclusive. */
  readonly to: HourKey;
  readonly days: number;
  /** Hours in the month (UTC has no DST: days x 24). */
  readonly hours: number;
}

export function monthWindow(month: string): MonthWindow {
  const period = monthPeriod(month);
  const hours = Math.round((hourStart(period.to).getTime() - hourStart(period.from).getTime()) / HOUR_MS) + 1;
  return { month, from: period.from, to: period.to, days: hours / 24, hours };
}

/** The UTC month an instant falls in, as YYYY-MM. */
export function monthOf(date: Date): string {
  return hourOfDate(date).slice(0, 7);
}

/** The month before the one `now` falls in: the last complete month. */
export function previousMonth(now: Date): string {
  return monthOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) - 1));
}

/** A metric's aggregation: the counter's own, else the registry's, else sum. */
export function aggregationOf(counter: UsageCounter, registry: MetricRegistry): Aggregation {
  return counter.aggregation ?? registry.get(counter.metric)?.aggregation ?? 'sum';
}

/**
 * Unit-months of a max metric (storage.gb: GB-months): the metric is a stock, so each hour of
 * the month holds the hour's peak when it was sampled, else the latest earlier reading in the
 * month (storage does not vanish between samples); hours before the month's first reading hold
 * 0. The sum over the month's hours divided by the hours in the month: 100 GB all month is 100
 * GB-months, 100 GB from mid-month on is about 50.
 */
export function unitMonths(
  hourly: readonly { hour: HourKey; quantity: number }[],
  window: MonthWindow,
): number {
  const inMonth = hourly
    .filter((h) => h.hour >= window.from && h.hour <= window.to)
    .sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : 0));
  if (inMonth.length === 0) return 0;
  const monthStart = hourStart(window.from).getTime();
  const index = (hour: HourKey): number => Math.round((hourStart(hour).getTime() - monthStart) / HOUR_MS);
  let total = 0;
  for (let i = 0; i < inMonth.length; i++) {
    const start = index(inMonth[i].hour);
    const end = i + 1 < inMonth.length ? index(inMonth[i + 1].hour) : window.hours;
    total += inMonth[i].quantity * (end - start);
  }
  return total / window.hours;
}

/** One metric of one tenant over a month. */
export interface MetricMonth {
  readonly metric: string;
  readonly aggregation: Aggregation;
  /** Summed metric: the month's total. Max metric: the month's highest hourly value. */
  readonly quantity: number;
  /** What the cost model prices: the total (sum), or the unit-months (max). */
  readonly billable: number;
}

/** A tenant's counters of one month, per metric (sorted by metric name). */
export function monthUsage(
  counters: readonly UsageCounter[],
  window: MonthWindow,
  registry: MetricRegistry,
): MetricMonth[] {
  const byMetric = new Map<string, UsageCounter[]>();
  for (const counter of counters) {
    if (counter.hour < window.from || counter.hour > window.to) continue;
    const list = byMetric.get(counter.metric) ?? [];
    list.push(counter);
    byMetric.set(counter.metric, list);
  }
  return [...byMetric.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([metric, list]) => {
      const aggregation = aggregationOf(list[0], registry);
      if (aggregation === 'sum') {
        const total = list.reduce((sum, c) => sum + c.quantity, 0);
        return { metric, aggregation, quantity: total, billable: total };
      }
      return {
        metric,
        aggregation,
        quantity: Math.max(...list.map((c) => c.quantity)),
        billable: unitMonths(list, window),
      };
    });
}

export function planLimit(tier: Tier | undefined, metric: string): number | undefined {
  return tier?.limits?.find((l: PlanLimit) => l.metric === metric)?.quantity;
}

export interface DayUsage {
  /** YYYY-MM-DD */
  readonly day: string;
  /** Per metric: the day's total (sum) or its highest hourly value (max). */
  readonly usage: Readonly<Record<string, number>>;
}

export type LimitStatus = 'within' | 'near' | 'over' | 'no-limit';

/** At or above this share of a limit, usage is `near` it. */
export const NEAR_LIMIT = 0.8;

export function limitStatus(used: number, limit: number | undefined): LimitStatus {
  if (limit === undefined) return 'no-limit';
  if (used > limit) return 'over';
  return limit > 0 && used >= NEAR_LIMIT * limit ? 'near' : 'within';
}

export interface MetricAgainstLimit extends MetricMonth {
  readonly limit?: number;
  /** quantity / limit, as a percentage with one decimal. */
  readonly usedPct?: number;
  readonly status: LimitStatus;
}

export interface TenantUsage {
  readonly tenantId: string;
  readonly tier: string;
  readonly month: string;
  readonly metrics: readonly MetricAgainstLimit[];
  /** Only the days with usage, in order. */
  readonly days: readonly DayUsage[];
}

/**
 * `tenant usage`: a tenant's month by metric and day, each metric against its plan limit (a
 * summed metric's total against the monthly allowance, a max metric's peak against its cap).
 */
export function tenantUsage(
  tenantId: string,
  tier: Tier | undefined,
  tierName: string,
  counters: readonly UsageCounter[],
  window: MonthWindow,
  registry: MetricRegistry,
): TenantUsage {
  const mine = counters.filter((c) => c.tenantId === tenantId);
  const metrics = monthUsage(mine, window, registry).map((m) => {
    const limit = planLimit(tier, m.metric);
    return {
      ...m,
      ...(limit === undefined ? {} : { limit }),
      ...(limit ? { usedPct: round(100 * (m.quantity / limit), 1) } : {}),
      status: limitStatus(m.quantity, limit),
    };
  });
  const days = new Map<string, Record<string, number>>();
  for (const counter of mine) {
    if (counter.hour < window.from || counter.hour > window.to) continue;
    const day = counter.hour.slice(0, 10);
    const usage = days.get(day) ?? {};
    const previous = usage[counter.metric];
    usage[counter.metric] =
      aggregationOf(counter, registry) === 'sum'
        ? (previous ?? 0) + counter.quantity
        : Math.max(previous ?? 0, counter.quantity);
    days.set(day, usage);
  }
  return {
    tenantId,
    tier: tierName,
    month: window.month,
    metrics,
    days: [...days.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, usage]) => ({ day, usage })),
  };
}

/** Usage of one period (this hour, today, this month) against what the plan allows in it. */
export interface PeriodUsage {
  readonly used: number;
  /** Summed metric: the plan's pro-rata allowance for the period. Max metric: the cap. */
  readonly allowance?: number;
  readonly usedPct?: number;
}

export type ThrottleAdvice = 'ok' | 'watch' | 'throttle' | 'no-limit';

export interface MetricNow {
  readonly metric: string;
  readonly aggregation: Aggregation;
  readonly limit?: number;
  readonly hour: PeriodUsage;
  readonly day: PeriodUsage;
  readonly month: PeriodUsage;
  /** Summed metric: month-to-date extrapolated to the month's end at the pace so far. */
  readonly projectedMonth?: number;
  readonly advice: ThrottleAdvice;
  readonly why: string;
}

export interface TenantLimits {
  readonly tenantId: string;
  readonly tier: string;
  readonly at: string;
  readonly hour: HourKey;
  readonly month: string;
  readonly metrics: readonly MetricNow[];
  /** True when any metric's advice is throttle. */
  readonly throttle: boolean;
}

/** Today's usage above this multiple of the daily allowance is a burst worth watching. */
export const BURST_FACTOR = 2;

/**
 * `tenant limits`: usage now against the plan. For a summed metric the allowances are the
 * monthly limit and its pro-rata shares (limit / days in month per day, limit / hours in month
 * per hour); advice is `throttle` once the month-to-date total exceeds the limit, `watch` when
 * the pace so far projects past it or today is above BURST_FACTOR times the daily allowance,
 * else `ok`. For a max metric (storage.gb) each period's peak is held against the cap; the
 * latest reading decides: above the cap `throttle` (refuse growth), at 80 % `watch`.
 */
export function tenantLimits(
  tenantId: string,
  tier: Tier | undefined,
  tierName: string,
  counters: readonly UsageCounter[],
  at: Date,
  registry: MetricRegistry,
): TenantLimits {
  const hour = hourOfDate(at);
  const day = hour.slice(0, 10);
  const window = monthWindow(hour.slice(0, 7));
  const mine = counters.filter((c) => c.tenantId === tenantId && c.hour >= window.from && c.hour <= hour);
  const metricNames = new Set([...mine.map((c) => c.metric), ...(tier?.limits ?? []).map((l) => l.metric)]);
  const elapsedHours = (at.getTime() - hourStart(window.from).getTime()) / HOUR_MS;
  const metrics = [...metricNames].sort().map((metric): MetricNow => {
    const list = mine.filter((c) => c.metric === metric).sort((a, b) => (a.hour < b.hour ? -1 : 1));
    const aggregation = list[0]
      ? aggregationOf(list[0], registry)
      : (registry.get(metric)?.aggregation ?? 'sum');
    const limit = planLimit(tier, metric);
    const fold = (items: readonly UsageCounter[]): number =>
      aggregation === 'sum'
        ? items.reduce((sum, c) => sum + c.quantity, 0)
        : items.reduce((max, c) => Math.max(max, c.quantity), 0);
    const period = (items: readonly UsageCounter[], allowance: number | undefined): PeriodUsage => {
      const used = fold(items);
      return {
        used: round(used, 3),
        ...(allowance === undefined ? {} : { allowance: round(allowance, 3) }),
        ...(allowance ? { usedPct: round((100 * used) / allowance, 1) } : {}),
      };
    };
    const sum = aggregation === 'sum';
    const hourUsage = period(
      list.filter((c) => c.hour === hour),
      limit === undefined ? undefined : sum ? limit / window.hours : limit,
    );
    const dayUsage = period(
      list.filter((c) => c.hour.startsWith(day)),
      limit === undefined ? undefined : sum ? limit / window.days : limit,
    );
    const monthUsed = period(list, limit);
    const base = { metric, aggregation, ...(limit === undefined ? {} : { limit }) };
    if (sum) {
      const projected = round(monthUsed.used * (window.hours / Math.max(1, elapsedHours)), 3);
      const advice = (): { advice: ThrottleAdvice; why: string } => {
        if (limit === undefined) return { advice: 'no-limit', why: 'the plan sets no limit' };
        if (monthUsed.used > limit) {
          return { advice: 'throttle', why: `month to date ${monthUsed.used} is over the limit of ${limit}` };
        }
        if (projected > limit) {
          return {
            advice: 'watch',
            why: `at this pace the month ends at ${projected}, over the limit of ${limit}`,
          };
        }
        if (dayUsage.allowance !== undefined && dayUsage.used > BURST_FACTOR * dayUsage.allowance) {
          return {
            advice: 'watch',
            why: `today's ${dayUsage.used} is over ${BURST_FACTOR} x the daily allowance of ${dayUsage.allowance}`,
          };
        }
        return { advice: 'ok', why: 'within the plan' };
      };
      return {
        ...base,
        hour: hourUsage,
        day: dayUsage,
        month: monthUsed,
        projectedMonth: projected,
        ...advice(),
      };
    }
    const latest = list.length > 0 ? list[list.length - 1].quantity : 0;
    const status = limitStatus(latest, limit);
    const advice: { advice: ThrottleAdvice; why: string } =
      status === 'no-limit'
        ? { advice: 'no-limit', why: 'the plan sets no limit' }
        : status === 'over'
          ? { advice: 'throttle', why: `the latest reading ${latest} is over the cap of ${limit}` }
          : status === 'near'
            ? {
                advice: 'watch',
                why: `the latest reading ${latest} is at ${NEAR_LIMIT * 100} % or more of the cap of ${limit}`,
              }
            : { advice: 'ok', why: 'within the plan' };
    return { ...base, hour: hourUsage, day: dayUsage, month: monthUsed, ...advice };
  });
  return {
    tenantId,
    tier: tierName,
    at: at.toISOString(),
    hour,
    month: window.month,
    metrics,
    throttle: metrics.some((m) => m.advice === 'throttle'),
  };
}

/** An hour key from `--hour`: YYYY-MM-DDTHH, or an ISO 8601 UTC time (its hour). */
export function parseHour(text: string): HourKey {
  const candidate = /^\d{4}-\d{2}-\d{2}T\d{2}$/.test(text) ? `${text}:00:00Z` : text;
  const ms = Date.parse(candidate);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2}(:\d{2}(\.\d{1,3})?)?Z)?$/.test(text) || Number.isNaN(ms)) {
    throw usageError(
      'INVALID_HOUR',
      `Invalid hour ${JSON.stringify(text)}: expected YYYY-MM-DDTHH or an ISO 8601 UTC time, e.g. 2026-11-27T10 or 2026-11-27T10:15:00Z.`,
    );
  }
  const hour = hourOfDate(new Date(ms));
  if (hour.slice(0, 13) !== text.slice(0, 13)) {
    throw usageError('INVALID_HOUR', `Invalid hour ${JSON.stringify(text)}: that date does not exist.`);
  }
  return hour;
}

/** An instant from `--at`: an ISO 8601 UTC time. */
export function parseInstant(text: string, flag: string): Date {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/.test(text) || Number.isNaN(ms)) {
    throw usageError(
      'INVALID_TIMESTAMP',
      `Invalid ${flag} ${JSON.stringify(text)}: an ISO 8601 UTC time such as 2026-11-27T10:15:00Z.`,
    );
  }
  return new Date(ms);
}

export function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
