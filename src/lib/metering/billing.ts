import { usageError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import { catalogs } from '../tenants/context.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { assertTenantId } from '../tenants/model.js';
import { LOCAL_MARKETPLACE_PRODUCT_CODE } from '../platform/config.js';
import { UsageCounters } from './counters.js';
import { hourOfDate } from './events.js';
import { assertExportFormat, exportRows, monthPeriod, type ExportFormat, type ExportRow } from './export.js';
import { MarketplaceLedger, RECORD_STATES, type LedgerRecord, type RecordState } from './ledger.js';
import { MetricRegistry } from './metrics.js';
import { crashSwitch, pushPeriod, pushUsage, type PushRequest, type PushResult } from './push.js';
import type { HourKey } from './types.js';

/** The billing commands' entry points: each opens the platform (after checking its input) and calls the logic. */

export interface PushOptions extends PushRequest {
  readonly reporter?: Reporter;
  /** The test switch SAASCTL_TEST_CRASH_AT. */
  readonly crashAt?: string;
}

/** `metering push`. */
export async function runPush(open: PlatformSource, options: PushOptions): Promise<PushResult> {
  const crash = crashSwitch(options.crashAt);
  pushPeriod(options, new Date());
  const platform = await open();
  const { config, clients } = platform;
  const { catalog, tiers } = catalogs(platform);
  const productCode =
    config.marketplace?.productCode ??
    (platform.target.name === 'local' ? LOCAL_MARKETPLACE_PRODUCT_CODE : undefined);
  return pushUsage(
    {
      ledger: new MarketplaceLedger(clients.documents(), config.tables.ledger),
      counters: new UsageCounters(clients.documents(), config.tables.usage),
      tenants: () => catalog.list(),
      tiers: () => tiers.list(),
      registry: new MetricRegistry(),
      marketplace: () => clients.marketplace(),
      ...(productCode ? { productCode } : {}),
      ...(options.reporter ? { reporter: options.reporter } : {}),
      ...(crash ? { crash } : {}),
    },
    options,
  );
}

export interface LedgerOptions {
  readonly tenantId?: string;
  /** ISO 8601, inclusive; default the start of the current UTC month. */
  readonly from?: string;
  /** ISO 8601, exclusive; default now. */
  readonly to?: string;
}

export interface LedgerTotals {
  readonly records: number;
  readonly units: number;
}

export interface LedgerReport {
  readonly from: HourKey;
  readonly to: HourKey;
  readonly tenantId?: string;
  readonly records: readonly LedgerRecord[];
  readonly totals: LedgerTotals & { readonly byState: Readonly<Record<RecordState, LedgerTotals>> };
  /** Per tenant and dimension: units by state. */
  readonly byDimension: readonly {
    readonly tenantId: string;
    readonly dimension: string;
    readonly units: Readonly<Record<RecordState, number>>;
  }[];
}

/** `metering ledger`: the records of a period with totals. */
export async function runLedger(
  open: PlatformSource,
  options: LedgerOptions,
  now: Date = new Date(),
): Promise<LedgerReport> {
  const tenantId = options.tenantId === undefined ? undefined : assertTenantId(options.tenantId);
  const from = parseInstant(
    options.from,
    '--from',
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
  );
  const to = parseInstant(options.to, '--to', now);
  if (!(from < to)) {
    throw usageError(
      'INVALID_PERIOD',
      `Invalid period ${from.toISOString()} to ${to.toISOString()}: --from must be before --to.`,
    );
  }
  const platform = await open();
  const ledger = new MarketplaceLedger(platform.clients.documents(), platform.config.tables.ledger);
  const period = { from: hourOfDate(from), to: hourOfDate(new Date(to.getTime() - 1)) };
  const records = await ledger.list({ ...period, ...(tenantId ? { tenantId } : {}) });
  return { ...period, ...(tenantId ? { tenantId } : {}), ...ledgerTotals(records), records };
}

export function ledgerTotals(records: readonly LedgerRecord[]): Pick<LedgerReport, 'totals' | 'byDimension'> {
  const zero = (): Record<RecordState, number> =>
    Object.fromEntries(RECORD_STATES.map((s) => [s, 0])) as Record<RecordState, number>;
  const byState = Object.fromEntries(RECORD_STATES.map((s) => [s, { records: 0, units: 0 }])) as Record<
    RecordState,
    { records: number; units: number }
  >;
  const byDimension = new Map<
    string,
    { tenantId: string; dimension: string; units: Record<RecordState, number> }
  >();
  for (const record of records) {
    byState[record.state].records++;
    byState[record.state].units += record.quantity;
    const id = `${record.tenantId}\u0000${record.dimension}`;
    const entry = byDimension.get(id) ?? {
      tenantId: record.tenantId,
      dimension: record.dimension,
      units: zero(),
    };
    entry.units[record.state] += record.quantity;
    byDimension.set(id, entry);
  }
  return {
    totals: { records: records.length, units: records.reduce((n, r) => n + r.quantity, 0), byState },
    byDimension: [...byDimension.values()].sort(
      (a, b) => compare(a.tenantId, b.tenantId) || compare(a.dimension, b.dimension),
    ),
  };
}

export interface ExportOptions {
  readonly month: string;
  readonly format: string;
}

export interface ExportResult {
  readonly month: string;
  readonly format: ExportFormat;
  readonly rows: readonly ExportRow[];
  readonly tenants: number;
}

/** `metering export`: a month's per-tenant, per-metric totals. */
export async function runExport(open: PlatformSource, options: ExportOptions): Promise<ExportResult> {
  const period = monthPeriod(options.month);
  const format = assertExportFormat(options.format);
  const platform = await open();
  const { clients, config } = platform;
  const [counters, ledger] = await Promise.all([
    new UsageCounters(clients.documents(), config.tables.usage).list({ from: period.from, to: period.to }),
    // Usage of the month may be billed later (deltas carried forward): every record from its start.
    new MarketplaceLedger(clients.documents(), config.tables.ledger).list({
      from: period.from,
      to: '9999-12-31T23',
    }),
  ]);
  const rows = exportRows(period, counters, ledger, new MetricRegistry());
  return { month: period.month, format, rows, tenants: new Set(rows.map((r) => r.tenantId)).size };
}

function parseInstant(text: string | undefined, flag: string, fallback: Date): Date {
  if (text === undefined) return fallback;
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) {
    throw usageError(
      'INVALID_TIME',
      `Invalid ${flag} "${text}": expected an ISO 8601 time such as 2026-11-01T00:00:00Z.`,
    );
  }
  return at;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
