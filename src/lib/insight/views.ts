import type { Column } from '../cli/output.js';
import type { MarginReport, MarginRow } from './margin.js';
import type { NoisyTenant } from './noisy.js';
import type { DayUsage, MetricAgainstLimit, MetricNow, PeriodUsage } from './usage.js';

/** Table columns and text for the insight commands (humans only: --json gets the objects). */

export function usd(value: number): string {
  const sign = value < 0 ? '-' : '';
  return `${sign}$${Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function quantity(value: number | undefined): string {
  return value === undefined ? '' : value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

export const marginColumns: readonly Column<MarginRow>[] = [
  { header: 'TENANT', get: (r) => r.tenantId },
  { header: 'TIER', get: (r) => r.tier },
  { header: 'REVENUE', get: (r) => `${usd(r.revenue)}${r.priceSource === 'tenant' ? '*' : ''}` },
  { header: 'COST', get: (r) => usd(r.cost) },
  { header: 'MARGIN', get: (r) => usd(r.margin) },
  { header: 'MARGIN %', get: (r) => (r.marginPct === null ? '' : `${r.marginPct}`) },
  { header: 'USAGE vs TIER', get: (r) => (r.usageMultiple === null ? '' : `${r.usageMultiple}x`) },
  {
    header: 'ACTION',
    get: (r) =>
      r.recommendation
        ? `${r.recommendation.action}${'tier' in r.recommendation ? ` ${r.recommendation.tier}` : ''}`
        : '',
  },
];

/** Totals, and for each flagged tenant its recommendation and the numbers behind it. */
export function marginDetails(report: MarginReport): string {
  const lines = [
    `${report.month}: revenue ${usd(report.totals.revenue)}, cost to serve ${usd(report.totals.cost)}, margin ${usd(report.totals.margin)}; ${report.totals.flagged} of ${report.totals.tenants} tenants below zero.`,
  ];
  if (report.tenants.some((t) => t.priceSource === 'tenant'))
    lines.push('* the tenant has its own plan price.');
  for (const row of report.tenants.filter((t) => t.flagged)) {
    lines.push('', `${row.tenantId} (${row.tier}): ${row.recommendation?.summary ?? ''}`);
    for (const m of row.metrics) {
      lines.push(
        `  ${m.metric}: ${quantity(m.billable)}${m.aggregation === 'max' ? ' unit-months' : ''} costs ${usd(m.costUsd)}` +
          `${m.multiple === null ? '' : `, ${m.multiple}x the tier average`}${m.limit === undefined ? '' : `, plan limit ${quantity(m.limit)}`}`,
      );
    }
    if (row.fixedCost > 0) lines.push(`  fixed cost of ${row.tier}: ${usd(row.fixedCost)}`);
  }
  return lines.join('\n');
}

export const usageTotalColumns: readonly Column<MetricAgainstLimit>[] = [
  { header: 'METRIC', get: (m) => m.metric },
  { header: 'USED', get: (m) => `${quantity(m.quantity)}${m.aggregation === 'max' ? ' (peak)' : ''}` },
  { header: 'LIMIT', get: (m) => quantity(m.limit) },
  { header: 'USED %', get: (m) => (m.usedPct === undefined ? '' : `${m.usedPct}`) },
  { header: 'STATUS', get: (m) => m.status },
  {
    header: 'BILLABLE',
    get: (m) => `${quantity(m.billable)}${m.aggregation === 'max' ? ' unit-months' : ''}`,
  },
];

export function dayColumns(metrics: readonly string[]): Column<DayUsage>[] {
  return [
    { header: 'DAY', get: (d) => d.day },
    ...metrics.map((metric) => ({ header: metric, get: (d: DayUsage) => quantity(d.usage[metric]) })),
  ];
}

function period(p: PeriodUsage): string {
  return `${quantity(p.used)}${p.allowance === undefined ? '' : ` / ${quantity(p.allowance)}`}`;
}

export const limitColumns: readonly Column<MetricNow>[] = [
  { header: 'METRIC', get: (m) => m.metric },
  { header: 'HOUR', get: (m) => period(m.hour) },
  { header: 'TODAY', get: (m) => period(m.day) },
  { header: 'MONTH', get: (m) => period(m.month) },
  { header: 'PROJECTED', get: (m) => quantity(m.projectedMonth) },
  { header: 'ADVICE', get: (m) => m.advice },
  { header: 'WHY', get: (m) => m.why },
];

export const noisyColumns: readonly Column<NoisyTenant>[] = [
  { header: 'TENANT', get: (n) => n.tenantId },
  { header: 'TIER', get: (n) => n.tier },
  { header: 'METRIC', get: (n) => n.metric },
  { header: 'QUANTITY', get: (n) => quantity(n.quantity) },
  { header: 'SHARE %', get: (n) => (100 * n.share).toFixed(1) },
  { header: 'EXPECTED %', get: (n) => (100 * n.expectedShare).toFixed(1) },
  { header: 'RATIO', get: (n) => (n.ratio === null ? 'no allowance' : `${n.ratio}x`) },
];
