import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { queryAll } from '../platform/dynamo.js';
import { sdk } from '../platform/sdk.js';
import { HOUR_MS, hourOfDate } from './events.js';

/**
 * When each hour was last reconciled in full (every tenant), so that a later reconcile can
 * report apart the events that arrived after it: usage billing has already settled, to be
 * carried forward rather than silently folded into a closed hour. Kept in the control-plane
 * table, one item per UTC day: `PK=METERING`, `SK=RECONCILED#<YYYY-MM-DD>`, with a map from
 * hour (`HH`) to the reconcile's start time.
 */
export class ReconcileMarks {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Epoch milliseconds of the last full reconcile of each hour in [from, to), by hour start. */
  async read(from: Date, to: Date): Promise<Map<number, number>> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': PARTITION,
        ':from': `${SORT_PREFIX}${dayKey(from.getTime())}`,
        ':to': `${SORT_PREFIX}${dayKey(to.getTime() - 1)}`,
      },
    });
    const marks = new Map<number, number>();
    for (const item of items) {
      const day = String(item.SK).slice(SORT_PREFIX.length);
      const hours = (item.hours ?? {}) as Record<string, string>;
      for (const [hour, at] of Object.entries(hours)) {
        const start = Date.parse(`${day}T${hour}:00:00Z`);
        const time = Date.parse(at);
        if (Number.isFinite(start) && Number.isFinite(time)) marks.set(start, time);
      }
    }
    return marks;
  }

  /**
   * Records `at` for every hour of [from, to) that had ended by then (an open hour is not
   * settled). Two writes per day: the map is created when missing, then its hours are set.
   */
  async record(from: Date, to: Date, at: Date): Promise<number> {
    const end = Math.min(to.getTime(), Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
    const byDay = new Map<string, string[]>();
    for (let hour = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS; hour < end; hour += HOUR_MS) {
      const key = dayKey(hour);
      const hours = byDay.get(key) ?? [];
      hours.push(hourOfDate(new Date(hour)).slice(11, 13));
      byDay.set(key, hours);
    }
    const { UpdateCommand } = sdk.documents();
    let recorded = 0;
    for (const [day, hours] of byDay) {
      const names: Record<string, string> = { '#hours': 'hours' };
      hours.forEach((hour, i) => (names[`#h${i}`] = hour));
      // The map must exist before its entries can be set: created empty when missing, then filled.
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: PARTITION, SK: `${SORT_PREFIX}${day}` },
          UpdateExpression: 'SET #hours = if_not_exists(#hours, :empty)',
          ExpressionAttributeNames: { '#hours': 'hours' },
          ExpressionAttributeValues: { ':empty': {} },
        }),
      );
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: PARTITION, SK: `${SORT_PREFIX}${day}` },
          UpdateExpression: `SET ${hours.map((_, i) => `#hours.#h${i} = :at`).join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':at': at.toISOString() },
        }),
      );
      recorded += hours.length;
    }
    return recorded;
  }
}

const PARTITION = 'METERING';
const SORT_PREFIX = 'RECONCILED#';

function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
