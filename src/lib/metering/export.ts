import { usageError } from '../cli/errors.js';
import type { UsageCounter } from './counters.js';
import { hourOfDate } from './events.js';
import type { LedgerRecord } from './ledger.js';
import type { MetricRegistry } from './metrics.js';
import type { HourKey } from './types.js';

/**
 * `metering export`: a month's usage per tenant and metric, for billing engines other than AWS
 * Marketplace (and for checking one against the other). The quantity is the sum of the month's
 * hourly counters: calls and documents for sum metrics, GB-hours (the sum of hourly peaks) for
 * storage.gb. `marketplaceUnits` is what Marketplace accepted for those counters (ledger
 * ACCEPTED records, deltas carried into later hours included), so an engine that bills the rest
 * can leave Marketplace buyers out.
 */

export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRow {
  readonly month: string;
  readonly tenantId: string;
  readonly metric: string;
  readonly unit: string;
  readonly aggregation: string;
  readonly quantity: number;
  /** Hours with a counter. */
  readonly hours: number;
  readonly marketplaceUnits: number;
}

export const EXPORT_COLUMNS: readonly (keyof ExportRow)[] = [
  'month',
  'tenantId',
  'metric',
  'unit',
  'aggregation',
  'quantity',
  'hours',
  'marketplaceUnits',
];

export interface MonthPeriod {
  readonly month: string;
  /** First and last hour of the month, inclusive. */
  readonly from: HourKey;
  readonly to: HourKey;
}

export function monthPeriod(month: string): MonthPeriod {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!match) {
    throw usageError('INVALID_MONTH', `Invalid month "${month}": expected YYYY-MM, such as 2026-11.`);
  }
  const year = Number(match[1]);
  const index = Number(match[2]) - 1;
  return {
    month,
    from: hourOfDate(new Date(Date.UTC(year, index, 1))),
    to: hourOfDate(new Date(Date.UTC(year, index + 1, 1) - 1)),
  };
}

export function assertExportFormat(format: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw usageError('INVALID_FORMAT', `Invalid format "${format}": csv or ndjson.`);
  }
  return format as ExportFormat;
}

/** One row per tenant and metric with usage in the month, sorted by tenant then metric. */
export function exportRows(
  period: MonthPeriod,
  counters: readonly UsageCounter[],
  ledger: readonly LedgerRecord[],
  registry: MetricRegistry,
): ExportRow[] {
  const rows = new Map<
    string,
    { tenantId: string; metric: string; quantity: number; hours: number; units: number }
  >();
  const row = (tenantId: string, metric: string) => {
    const id = `${tenantId}\u0000${metric}`;
    let found = rows.get(id);
    if (!found) {
      found = { tenantId, metric, quantity: 0, hours: 0, units: 0 };
      rows.set(id, found);
    }
    return found;
  };
  for (const counter of counters) {
    if (counter.hour < period.from || counter.hour > period.to) continue;
    const found = row(counter.tenantId, counter.metric);
    found.quantity += counter.quantity;
    found.hours++;
  }
  for (const record of ledger) {
    if (record.state !== 'ACCEPTED') continue;
    for (const [cell, units] of Object.entries(record.covers)) {
      const [metric, hour] = cell.split('#');
      if (hour >= period.from && hour <= period.to) row(record.tenantId, metric).units += units;
    }
  }
  return [...rows.values()]
    .sort((a, b) => compare(a.tenantId, b.tenantId) || compare(a.metric, b.metric))
    .map((r) => {
      const definition = registry.get(r.metric);
      return {
        month: period.month,
        tenantId: r.tenantId,
        metric: r.metric,
        unit: definition?.unit ?? '',
        aggregation: definition?.aggregation ?? '',
        // Sums of float samples: six decimals is more than any unit here needs.
        quantity: Math.round(r.quantity * 1e6) / 1e6,
        hours: r.hours,
        marketplaceUnits: r.units,
      };
    });
}

/** The rows as CSV (RFC 4180: a header, CRLF line ends, quotes where needed) or NDJSON. */
export function formatExport(rows: readonly ExportRow[], format: ExportFormat): string {
  if (format === 'ndjson') return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  const lines = [
    EXPORT_COLUMNS.join(','),
    ...rows.map((r) => EXPORT_COLUMNS.map((c) => csvField(r[c])).join(',')),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
