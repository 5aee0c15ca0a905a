import { randomUUID } from 'node:crypto';

import { usageError } from '../cli/errors.js';
import { HOUR_MS, hoursBetween, hourStart, isoOf, MAX_FUTURE_SKEW_MS, parseTimestamp } from './events.js';
import type { HourKey } from './types.js';

/**
 * Where usage objects live in the lake bucket. Raw objects follow Firehose's default S3 layout
 * (UTC time prefix, then `<stream>-<version>-<timestamp>-<uuid>`), so the objects the local
 * pump and the simulation write are the ones Firehose writes on aws, and one reader serves both.
 */
export const RAW_PREFIX = 'raw/';
export const QUARANTINE_PREFIX = 'quarantine/';
/** Firehose numbers a delivery stream's configurations from 1. */
export const DEFAULT_STREAM_VERSION = 1;
/** Firehose's longest buffering interval. */
export const FIREHOSE_MAX_BUFFER_MS = 900 * 1000;
/**
 * How much earlier than its `ts` an event's object can be keyed. A producer's clock may run up
 * to MAX_FUTURE_SKEW_MS ahead (validateEvent accepts that), and Firehose keys an object by the
 * arrival of its oldest record, which can precede any other record in it by one buffering
 * interval.
 */
export const EARLY_ARRIVAL_MS = MAX_FUTURE_SKEW_MS + FIREHOSE_MAX_BUFFER_MS;

// Firehose delivery stream names: 1-64 of these characters.
const STREAM_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const UUID_PATTERN = new RegExp(`^${UUID}$`);
// The stream name may hold hyphens; everything after it has a fixed shape, so the split is unique.
const RAW_KEY_PATTERN = new RegExp(
  `^raw/(\\d{4})/(\\d{2})/(\\d{2})/(\\d{2})/([A-Za-z0-9_.-]{1,64})-([1-9]\\d{0,8})-` +
    `(\\d{4})-(\\d{2})-(\\d{2})-(\\d{2})-(\\d{2})-(\\d{2})-(${UUID})\\.gz$`,
);

export interface LakeObjectKeyInput {
  /** The Firehose delivery stream name. */
  readonly stream: string;
  /** When the data arrived at Firehose (not when the usage happened). */
  readonly arrival: Date;
  /** The delivery stream version, default 1. */
  readonly version?: number;
  /** Default: a random one, as Firehose's. */
  readonly uuid?: string;
}

export interface LakeObjectKeyParts {
  /** The hour of the key's time prefix: the arrival hour of the object's oldest record. */
  readonly prefixHour: HourKey;
  readonly stream: string;
  readonly version: number;
  /** The timestamp in the object's name, to the second. */
  readonly arrival: Date;
  readonly uuid: string;
}

/** `raw/YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`, all from the arrival time in UTC. */
export function lakeObjectKey(input: LakeObjectKeyInput): string {
  const { stream, arrival, version = DEFAULT_STREAM_VERSION, uuid = randomUUID() } = input;
  if (!STREAM_NAME_PATTERN.test(stream)) {
    throw usageError(
      'INVALID_STREAM_NAME',
      `Invalid delivery stream name ${JSON.stringify(stream)}: 1-64 letters, digits, hyphens, underscores and periods.`,
    );
  }
  if (!Number.isSafeInteger(version) || version < 1 || version > 999_999_999) {
    throw usageError(
      'INVALID_STREAM_VERSION',
      `Invalid delivery stream version ${version}: a whole number from 1.`,
    );
  }
  const iso = isoOf(arrival);
  const stamp = `${iso.slice(0, 10)}-${iso.slice(11, 13)}-${iso.slice(14, 16)}-${iso.slice(17, 19)}`;
  return `${timePrefix(RAW_PREFIX, iso)}${stream}-${version}-${stamp}-${checkedUuid(uuid)}.gz`;
}

/** The parts of a raw object key, or undefined for a key that is not in the layout. */
export function parseLakeObjectKey(key: string): LakeObjectKeyParts | undefined {
  const match = RAW_KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const [, py, pm, pd, ph, stream, version, y, mo, d, h, mi, s, uuid] = match;
  const prefixHour = `${py}-${pm}-${pd}T${ph}`;
  const arrival = parseTimestamp(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  // Shaped like a date is not a date: 2026/02/30 or hour 24 is not a Firehose key.
  if (parseTimestamp(`${prefixHour}:00:00Z`) === undefined || arrival === undefined) return undefined;
  return { prefixHour, stream, version: Number(version), arrival: new Date(arrival), uuid };
}

/** `raw/YYYY/MM/DD/HH/`: the prefix to list for one arrival hour. */
export function hourPrefix(hour: HourKey): string {
  return timePrefix(RAW_PREFIX, isoOf(hourStart(hour)));
}

export interface PartitionOptions {
  /** How much earlier than its ts an event's object can be keyed. Default EARLY_ARRIVAL_MS. */
  readonly earlyArrivalMs?: number;
}

/**
 * The raw hour prefixes to list to find every event whose ts is in [from, to). Firehose keys
 * objects by arrival, and events arrive after their ts, up to `lateArrivalHours` late, so the
 * listing runs past `to` by that window. It also starts EARLY_ARRIVAL_MS before `from`: an event
 * stamped just after `from` can sit in an object keyed a little before it, so a period that
 * starts on the hour also lists the hour before. Listing too much costs a few requests; listing
 * too little loses billed units, and the reader keeps only the events whose ts is in the period.
 */
export function partitionsForPeriod(
  from: Date,
  to: Date,
  lateArrivalHours: number,
  options: PartitionOptions = {},
): string[] {
  const earlyArrivalMs = options.earlyArrivalMs ?? EARLY_ARRIVAL_MS;
  if (!Number.isFinite(lateArrivalHours) || lateArrivalHours < 0) {
    throw usageError(
      'INVALID_LATE_ARRIVAL_WINDOW',
      `Invalid late-arrival window ${lateArrivalHours}: a number of hours, 0 or more.`,
    );
  }
  if (!Number.isFinite(earlyArrivalMs) || earlyArrivalMs < 0) {
    throw usageError(
      'INVALID_EARLY_ARRIVAL',
      `Invalid early-arrival margin ${earlyArrivalMs} ms: 0 or more.`,
    );
  }
  const start = from.getTime();
  const end = to.getTime();
  if (Number.isNaN(start) || Number.isNaN(end) || start > end) {
    throw usageError(
      'INVALID_PERIOD',
      `Invalid period: from (${String(from)}) must be a valid date at or before to (${String(to)}).`,
    );
  }
  if (start === end) return [];
  return hoursBetween(new Date(start - earlyArrivalMs), new Date(end + lateArrivalHours * HOUR_MS)).map(
    hourPrefix,
  );
}

/**
 * The latest time a record in an object can have arrived, the clock its events are checked
 * against (a ts more than five minutes past it is malformed). The key keeps the arrival of the
 * object's first record, to the second; Firehose buffers up to 900 s after it. The aggregator
 * judged each record by its own arrival, which the lake does not keep, so an event stamped
 * 5 to 20 minutes ahead of its producer's clock may count here and not there: reconcile then
 * reports it as drift, never silently.
 */
export function latestArrival(firstRecord: Date): number {
  return firstRecord.getTime() + 1000 + FIREHOSE_MAX_BUFFER_MS;
}

export interface QuarantineKeyInput {
  /** When the malformed events were read or received. */
  readonly arrival: Date;
  readonly uuid?: string;
}

/** `quarantine/YYYY/MM/DD/HH/<uuid>.ndjson.gz`: where malformed events are kept for a person to look at. */
export function quarantineKey(input: QuarantineKeyInput): string {
  const { arrival, uuid = randomUUID() } = input;
  return `${timePrefix(QUARANTINE_PREFIX, isoOf(arrival))}${checkedUuid(uuid)}.ndjson.gz`;
}

function timePrefix(root: string, iso: string): string {
  return `${root}${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/`;
}

function checkedUuid(uuid: string): string {
  if (!UUID_PATTERN.test(uuid)) {
    throw usageError(
      'INVALID_UUID',
      `Invalid object uuid ${JSON.stringify(uuid)}: expected a UUID like randomUUID() makes.`,
    );
  }
  return uuid;
}
