import { usageError } from '../cli/errors.js';
import { tenantIdProblem } from '../tenants/model.js';
import type { MetricRegistry } from './metrics.js';
import type { HourKey, UsageEvent } from './types.js';

export const EVENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** A sanity cap on one event's quantity for sum metrics: far above real usage, far below float trouble. */
export const MAX_SUM_QUANTITY = 1e12;
/** How far ahead of our clock a producer's clock may run before its events are refused. */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
export const HOUR_MS = 60 * 60 * 1000;

// Exactly what Date#toISOString writes (or the same without millis): no offsets, no local
// times, nothing that Date.parse would read in the machine's time zone.
const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const HOUR_KEY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}$/;
const TIMESTAMP_EXAMPLE = '2026-11-27T10:15:00.000Z or 2026-11-27T10:15:00Z';

export type EventValidation =
  { readonly ok: true; readonly event: UsageEvent } | { readonly ok: false; readonly reason: string };

/**
 * Checks one usage event read from the lake or a stream record. It never throws: a malformed
 * event is counted and quarantined, never allowed to fail the batch it came in. The reason
 * starts with the field whose rule was broken. Unknown fields are ignored, and the event
 * returned carries only the five known ones.
 */
export function validateEvent(
  value: unknown,
  registry: MetricRegistry,
  now: Date = new Date(),
): EventValidation {
  const reason = eventProblem(value, registry, now);
  if (reason !== undefined) return { ok: false, reason };
  const { eventId, tenantId, metric, quantity, ts } = value as UsageEvent;
  return { ok: true, event: { eventId, tenantId, metric, quantity, ts } };
}

/** validateEvent for a single event from an operator (`metering emit`): a bad one is a usage error. */
export function assertEvent(value: unknown, registry: MetricRegistry, now: Date = new Date()): UsageEvent {
  const result = validateEvent(value, registry, now);
  if (!result.ok) {
    throw usageError('INVALID_EVENT', `Invalid usage event: ${result.reason}.`, [
      'Fix the field named in the message and emit the event again.',
    ]);
  }
  return result.event;
}

function eventProblem(value: unknown, registry: MetricRegistry, now: Date): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `event: must be a JSON object with eventId, tenantId, metric, quantity and ts (got ${shown(value)})`;
  }
  const { eventId, tenantId, metric, quantity, ts } = value as Record<string, unknown>;

  if (typeof eventId !== 'string' || !EVENT_ID_PATTERN.test(eventId)) {
    const got =
      typeof eventId === 'string' && eventId.length > 128 ? `${eventId.length} characters` : shown(eventId);
    return `eventId: must be a string of 1-128 characters from A-Z a-z 0-9 . _ : - (got ${got})`;
  }

  if (typeof tenantId !== 'string') return `tenantId: must be a tenant id string (got ${shown(tenantId)})`;
  const tenantProblem = tenantIdProblem(tenantId);
  if (tenantProblem) return `tenantId: must be a valid tenant id (got ${shown(tenantId)}: ${tenantProblem})`;

  const definition = typeof metric === 'string' ? registry.get(metric) : undefined;
  if (!definition) {
    return `metric: must be a known metric, one of ${registry.names().join(', ')} (got ${shown(metric)})`;
  }

  if (typeof quantity !== 'number' || !Number.isFinite(quantity) || quantity < 0) {
    return `quantity: must be a finite number >= 0 (got ${shown(quantity)})`;
  }
  if (definition.aggregation === 'sum' && quantity > MAX_SUM_QUANTITY) {
    return `quantity: must be at most 1e12 for ${definition.name}, a sum metric (got ${quantity})`;
  }

  if (typeof ts !== 'string' || !TIMESTAMP_PATTERN.test(ts)) {
    return `ts: must be an ISO 8601 UTC timestamp ending in Z, like ${TIMESTAMP_EXAMPLE} (got ${shown(ts)})`;
  }
  const at = parseTimestamp(ts);
  if (at === undefined) return `ts: must be a real date and time (got ${shown(ts)})`;
  if (at - now.getTime() > MAX_FUTURE_SKEW_MS) {
    return `ts: must be at most 5 minutes in the future (got ${ts}, now ${isoOrInvalid(now)})`;
  }
  return undefined;
}

/**
 * Milliseconds since the epoch for a timestamp in the event format, or undefined when it is not
 * one. Date.parse alone is not enough: V8 reads 2026-02-30 as March 2 and T24:00 as the next
 * day, so the result must print back as the same instant.
 */
export function parseTimestamp(ts: string): number | undefined {
  if (!TIMESTAMP_PATTERN.test(ts)) return undefined;
  // The fields checked and combined directly: the reconcile engine reads millions of these,
  // and a Date round trip costs more than parsing the JSON line. Years 0-99 take the slow
  // path, since Date.UTC maps them to 1900-1999.
  const year = digits(ts, 0, 4);
  if (year >= 100) {
    const month = digits(ts, 5, 2);
    const day = digits(ts, 8, 2);
    const hour = digits(ts, 11, 2);
    const minute = digits(ts, 14, 2);
    const second = digits(ts, 17, 2);
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
    if (hour > 23 || minute > 59 || second > 59) return undefined;
    const millis = ts.length === 24 ? digits(ts, 20, 3) : 0;
    return Date.UTC(year, month - 1, day, hour, minute, second, millis);
  }
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return undefined;
  const canonical = ts.length === '2026-11-27T10:15:00Z'.length ? `${ts.slice(0, -1)}.000Z` : ts;
  return new Date(ms).toISOString() === canonical ? ms : undefined;
}

function digits(text: string, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/** Days in a month of the proleptic Gregorian calendar (month 1-12). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The hour (UTC) an event's timestamp falls in: what its usage counter is keyed by. */
export function hourOf(ts: string): HourKey {
  const ms = parseTimestamp(ts);
  if (ms === undefined) {
    throw usageError(
      'INVALID_TIMESTAMP',
      `Invalid timestamp ${JSON.stringify(ts)}: expected ${TIMESTAMP_EXAMPLE}.`,
    );
  }
  return hourOfDate(new Date(ms));
}

/** The hour (UTC) an instant falls in. */
export function hourOfDate(date: Date): HourKey {
  return isoOf(date).slice(0, 13);
}

/** The first instant of an hour. */
export function hourStart(hour: HourKey): Date {
  const start = HOUR_KEY_PATTERN.test(hour) ? parseTimestamp(`${hour}:00:00Z`) : undefined;
  if (start === undefined) {
    throw usageError(
      'INVALID_HOUR',
      `Invalid hour ${JSON.stringify(hour)}: expected YYYY-MM-DDTHH in UTC, e.g. 2026-11-27T10.`,
    );
  }
  return new Date(start);
}

/**
 * Every hour that overlaps [from, to), in order: an hour is in when any instant of it is at or
 * after `from` and before `to`, so a `from` of 10:30 includes 10 and a `to` of 12:00 excludes 12.
 * Hours are counted on the epoch, which has no time zones and no DST: a day is always 24 of them.
 */
export function hoursBetween(from: Date, to: Date): HourKey[] {
  const start = Math.floor(epochOf(from, 'from') / HOUR_MS) * HOUR_MS;
  const end = epochOf(to, 'to');
  const hours: HourKey[] = [];
  for (let t = start; t < end; t += HOUR_MS) hours.push(hourOfDate(new Date(t)));
  return hours;
}

function epochOf(date: Date, name: string): number {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw usageError('INVALID_PERIOD', `Invalid period: ${name} is not a valid date.`);
  return ms;
}

/** toISOString, refusing the dates it cannot write in the four-digit-year form keys rely on. */
export function isoOf(date: Date): string {
  const ms = date.getTime();
  const iso = Number.isNaN(ms) ? '' : date.toISOString();
  if (!TIMESTAMP_PATTERN.test(iso)) {
    throw usageError(
      'INVALID_DATE',
      `Invalid date ${isoOrInvalid(date)}: expected a date in years 0000-9999.`,
    );
  }
  return iso;
}

function isoOrInvalid(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString();
}

/** A value as a reason shows it: short, one line, never the whole of a hostile string. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
