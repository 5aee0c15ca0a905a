import { usageError } from '../cli/errors.js';
import { catalogs } from '../tenants/context.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { assertTenantId } from '../tenants/model.js';
import { UsageCounters } from './counters.js';
import { MetricRegistry } from './metrics.js';
import { reconcile, type ReconcileResult } from './reconcile.js';

export interface ReconcileOptions {
  readonly month?: string;
  readonly from?: string;
  readonly to?: string;
  readonly tenantId?: string;
  readonly fix?: boolean;
  readonly lateArrivalHours?: number;
}

/** `--month YYYY-MM` or `--from ISO --to ISO` as a UTC period; bad input is refused first. */
export function reconcilePeriod(options: ReconcileOptions): { from: Date; to: Date } {
  if (options.month !== undefined) {
    if (options.from !== undefined || options.to !== undefined) {
      throw usageError('PERIOD_CONFLICT', 'Give either --month or --from and --to, not both.');
    }
    const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(options.month);
    if (!match)
      throw usageError(
        'INVALID_MONTH',
        `Invalid month "${options.month}": expected YYYY-MM, such as 2026-11.`,
      );
    const year = Number(match[1]);
    const month = Number(match[2]) - 1;
    return { from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + 1, 1)) };
  }
  if (options.from === undefined || options.to === undefined) {
    throw usageError('PERIOD_REQUIRED', 'Give the period: --month YYYY-MM, or --from and --to (ISO 8601).');
  }
  const from = new Date(options.from);
  const to = new Date(options.to);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
    throw usageError(
      'INVALID_PERIOD',
      `Invalid period ${options.from} to ${options.to}: two ISO 8601 times, from before to.`,
    );
  }
  return { from, to };
}

/** `metering reconcile`: the counters against the raw lake, optionally repairing drift. */
export async function runReconcile(
  open: PlatformSource,
  options: ReconcileOptions,
): Promise<ReconcileResult> {
  const period = reconcilePeriod(options);
  const tenantId = options.tenantId === undefined ? undefined : assertTenantId(options.tenantId);
  const platform = await open();
  const { config, clients } = platform;
  const { catalog } = catalogs(platform);
  const actor = await platform.actor();
  return reconcile(
    {
      s3: clients.s3(),
      bucket: config.rawLakeBucket,
      counters: new UsageCounters(clients.documents(), config.tables.usage),
      registry: new MetricRegistry(),
      audit: async (row) => {
        await catalog.recordEvent(row.tenantId, {
          action: 'usage-fix',
          actor,
          reason: `reconcile against the raw lake: ${row.metric} ${row.hour}`,
          changes: { [`${row.metric}@${row.hour}`]: { from: row.counter, to: row.lake } },
        });
      },
    },
    {
      ...period,
      ...(tenantId ? { tenantId } : {}),
      fix: options.fix,
      lateArrivalHours: options.lateArrivalHours,
    },
  );
}
