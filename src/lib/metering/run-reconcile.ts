import { usageError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import { catalogs } from '../tenants/context.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { assertTenantId } from '../tenants/model.js';
import { UsageCounters } from './counters.js';
import { MetricRegistry } from './metrics.js';
import { athenaEngineFor } from './athena.js';
import type { LakeEngine, LakeProgress } from './lake-aggregate.js';
import { aggregateLake, s3LakeSource } from './lake-engine.js';
import { reconcile, type ReconcileResult } from './reconcile.js';
import { ReconcileMarks } from './reconcile-marks.js';

export const RECONCILE_ENGINES = ['stream', 'athena'] as const;
export type ReconcileEngineName = (typeof RECONCILE_ENGINES)[number];

export interface ReconcileOptions {
  readonly month?: string;
  readonly from?: string;
  readonly to?: string;
  readonly tenantId?: string;
  readonly fix?: boolean;
  readonly lateArrivalHours?: number;
  readonly engine?: ReconcileEngineName;
  /** Stream engine: objects downloaded and parsed at once. */
  readonly concurrency?: number;
  readonly reporter?: Reporter;
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
  const engineName = options.engine ?? 'stream';
  if (!RECONCILE_ENGINES.includes(engineName)) {
    throw usageError('INVALID_ENGINE', `Invalid engine "${engineName}": stream or athena.`);
  }
  if (
    options.concurrency !== undefined &&
    !(Number.isInteger(options.concurrency) && options.concurrency >= 1)
  ) {
    throw usageError(
      'INVALID_CONCURRENCY',
      `Invalid concurrency ${options.concurrency}: a whole number from 1.`,
    );
  }
  const platform = await open();
  const { config, clients } = platform;
  const { catalog } = catalogs(platform);
  const actor = await platform.actor();
  const reporter = options.reporter;
  const engine: LakeEngine =
    engineName === 'athena'
      ? athenaEngineFor(platform)
      : (request) =>
          aggregateLake(s3LakeSource(clients.s3(), config.rawLakeBucket), request, {
            concurrency: options.concurrency,
            onProgress: reporter?.progress
              ? (p) => reporter.progress?.(describeProgress(p), false)
              : undefined,
          });
  const result = await reconcile(
    {
      engine,
      engineName,
      marks: new ReconcileMarks(clients.documents(), config.tables.controlPlane),
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
  if (engineName === 'stream') reporter?.progress?.(`Read ${result.objects} lake objects.`, true);
  return result;
}

function describeProgress(p: LakeProgress): string {
  const total = p.listingDone ? `${p.listed}` : `${p.listed}+`;
  return `Reading the lake: ${p.objects}/${total} objects, ${megabytes(p.bytes)}, ${p.events.toLocaleString('en-US')} events`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}
