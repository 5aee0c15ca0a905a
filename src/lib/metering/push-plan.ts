import type { DimensionMapping } from '../tenants/tiers.js';
import { HOUR_MS, hourOfDate, hourStart } from './events.js';
import type { LedgerRecord, RecordState } from './ledger.js';
import { billableUnits, MAX_RECORD_QUANTITY, TIMESTAMP_WINDOW_MS, type CustomerRef } from './marketplace.js';
import type { HourKey } from './types.js';

/**
 * What a push sends, decided from the counters and the ledger alone (no AWS here, so every rule
 * is unit-tested):
 *
 * - Each (tenant, dimension, hour) gets at most one record, ever: AWS answers a second one
 *   with another quantity with DuplicateRecord. Its Timestamp is the hour's start.
 * - A counter's billable units not yet covered by a record (`owed`) go into its own hour's
 *   record when that hour is still open (no record yet) and inside AWS's 6-hour window;
 *   otherwise into the next open hour inside the window (a delta: the counter grew after its
 *   hour was pushed, or its hour is older than the window). Nothing open: deferred to the next
 *   push, when a new hour has closed.
 * - Units covered by ACCEPTED, DUPLICATE, SENT or PENDING records count as billed; REJECTED
 *   ones are owed again. A counter below what was billed for it (lowered by a reconcile --fix)
 *   is reported as over-billed: Marketplace takes no negative usage.
 */

/** How close to the end of AWS's window a new record may be planned: room for the push to finish. */
export const PLAN_MARGIN_MS = 10 * 60_000;
/** How close to the end of the window a record left SENT or PENDING is still sent again. */
export const RESEND_MARGIN_MS = 60_000;

export interface Subscriber {
  readonly tenantId: string;
  readonly customer: CustomerRef;
  readonly mapping: readonly DimensionMapping[];
}

export interface CounterCell {
  readonly metric: string;
  readonly hour: HourKey;
  readonly quantity: number;
}

export interface PlanInput {
  readonly now: Date;
  /** The counters considered: hours from..to, inclusive (closed hours). */
  readonly from: HourKey;
  readonly to: HourKey;
  readonly subscribers: readonly Subscriber[];
  /** Each subscriber's counters in [from, to]. */
  readonly counters: ReadonlyMap<string, readonly CounterCell[]>;
  /** Each subscriber's ledger records from min(from, the window's first hour) on, in any state. */
  readonly ledger: ReadonlyMap<string, readonly LedgerRecord[]>;
  readonly runId: string;
}

/** Units billed in another hour than their counter's. */
export interface CarriedUsage {
  readonly tenantId: string;
  readonly metric: string;
  readonly hour: HourKey;
  readonly units: number;
  readonly into: HourKey;
  /** late: the counter grew after its hour was pushed; window: its hour is older than AWS's 6 hours. */
  readonly why: 'late' | 'window';
}

export interface OwedUsage {
  readonly tenantId: string;
  readonly metric: string;
  readonly hour: HourKey;
  readonly units: number;
}

export interface OverBilled {
  readonly tenantId: string;
  readonly metric: string;
  readonly hour: HourKey;
  readonly counted: number;
  readonly billed: number;
}

export interface PushPlan {
  /** The hours a new record may be for: closed, and inside the window with the planning margin. */
  readonly window: { readonly from: HourKey; readonly to: HourKey } | undefined;
  /** New records, PENDING, in send order (hour, tenant, dimension). */
  readonly records: readonly LedgerRecord[];
  /** Records left PENDING or SENT by an earlier push, still inside the window: sent again as they are. */
  readonly resend: readonly LedgerRecord[];
  /** PENDING records (never sent) that fell out of the window: removed, their units planned again. */
  readonly expired: readonly LedgerRecord[];
  /** SENT records outside the window: AWS may hold them and will not take them again. */
  readonly unresolved: readonly LedgerRecord[];
  readonly carried: readonly CarriedUsage[];
  /** Owed units with no open hour in the window: the next push bills them. */
  readonly deferred: readonly OwedUsage[];
  readonly overBilled: readonly OverBilled[];
}

/** Closed hours a record may be planned for, or resent in, at `now`. */
export function windowHours(now: Date, marginMs: number): HourKey[] {
  const currentStart = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  const earliest = now.getTime() - TIMESTAMP_WINDOW_MS + marginMs;
  const hours: HourKey[] = [];
  for (let start = Math.ceil(earliest / HOUR_MS) * HOUR_MS; start < currentStart; start += HOUR_MS) {
    hours.push(hourOfDate(new Date(start)));
  }
  return hours;
}

const BILLED: ReadonlySet<RecordState> = new Set(['ACCEPTED', 'DUPLICATE', 'SENT', 'PENDING']);

export function planPush(input: PlanInput): PushPlan {
  const eligible = windowHours(input.now, PLAN_MARGIN_MS);
  const resendable = new Set(windowHours(input.now, RESEND_MARGIN_MS));
  const createdAt = input.now.toISOString();
  const records: LedgerRecord[] = [];
  const resend: LedgerRecord[] = [];
  const expired: LedgerRecord[] = [];
  const unresolved: LedgerRecord[] = [];
  const carried: CarriedUsage[] = [];
  const deferred: OwedUsage[] = [];
  const overBilled: OverBilled[] = [];

  for (const subscriber of [...input.subscribers].sort((a, b) => compare(a.tenantId, b.tenantId))) {
    const { tenantId } = subscriber;
    const billed = new Map<string, number>();
    const occupied = new Set<string>();
    for (const record of input.ledger.get(tenantId) ?? []) {
      const inFlight = record.state === 'PENDING' || record.state === 'SENT';
      if (inFlight && !resendable.has(record.hour)) {
        if (record.state === 'PENDING') {
          // Never sent: it can go, and its units are owed again.
          expired.push(record);
          continue;
        }
        unresolved.push(record);
      } else if (inFlight) {
        resend.push(record);
      }
      occupied.add(slot(record.dimension, record.hour));
      if (!BILLED.has(record.state)) continue;
      for (const [cell, units] of Object.entries(record.covers))
        billed.set(cell, (billed.get(cell) ?? 0) + units);
    }

    const drafts = new Map<
      string,
      { dimension: string; hour: HourKey; quantity: number; covers: Record<string, number> }
    >();
    const cells = input.counters.get(tenantId) ?? [];
    for (const { metric, dimension } of subscriber.mapping) {
      const own = cells.filter((c) => c.metric === metric).sort((a, b) => compare(a.hour, b.hour));
      for (const cell of own) {
        const key = `${metric}#${cell.hour}`;
        const counted = billableUnits(cell.quantity);
        const already = billed.get(key) ?? 0;
        if (counted < already) {
          overBilled.push({ tenantId, metric, hour: cell.hour, counted, billed: already });
          continue;
        }
        let owed = counted - already;
        if (owed === 0) continue;
        const candidates = eligible.filter(
          (hour) => hour >= cell.hour && !occupied.has(slot(dimension, hour)),
        );
        for (const hour of candidates) {
          if (owed === 0) break;
          const id = slot(dimension, hour);
          const draft = drafts.get(id) ?? { dimension, hour, quantity: 0, covers: {} };
          const take = Math.min(owed, MAX_RECORD_QUANTITY - draft.quantity);
          if (take <= 0) continue;
          draft.quantity += take;
          draft.covers[key] = (draft.covers[key] ?? 0) + take;
          drafts.set(id, draft);
          owed -= take;
          if (hour !== cell.hour) {
            carried.push({
              tenantId,
              metric,
              hour: cell.hour,
              units: take,
              into: hour,
              why: eligible.includes(cell.hour) ? 'late' : 'window',
            });
          }
        }
        if (owed > 0) deferred.push({ tenantId, metric, hour: cell.hour, units: owed });
      }
    }
    for (const draft of drafts.values()) {
      records.push({
        tenantId,
        dimension: draft.dimension,
        hour: draft.hour,
        timestamp: hourStart(draft.hour).toISOString(),
        quantity: draft.quantity,
        customer: subscriber.customer,
        covers: draft.covers,
        state: 'PENDING',
        runId: input.runId,
        attempts: 0,
        createdAt,
        updatedAt: createdAt,
      });
    }
  }
  return {
    window: eligible.length > 0 ? { from: eligible[0], to: eligible[eligible.length - 1] } : undefined,
    records: records.sort(sendOrder),
    resend: resend.sort(sendOrder),
    expired,
    unresolved,
    carried,
    deferred,
    overBilled,
  };
}

function slot(dimension: string, hour: HourKey): string {
  return `${dimension}\u0000${hour}`;
}

function sendOrder(a: LedgerRecord, b: LedgerRecord): number {
  return compare(a.hour, b.hour) || compare(a.tenantId, b.tenantId) || compare(a.dimension, b.dimension);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
