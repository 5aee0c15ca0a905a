import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { SaasctlError, usageError } from '../cli/errors.js';
import { renderTable } from '../cli/output.js';
import type { Reporter } from '../cli/reporter.js';
import { UsageCounters } from '../metering/counters.js';
import { HOUR_MS, hourOfDate } from '../metering/events.js';
import { MetricRegistry } from '../metering/metrics.js';
import type { Platform } from '../platform/platform.js';
import { catalogs } from '../tenants/context.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { assertTenantId, type IsolationModel } from '../tenants/model.js';
import {
  CostCatalog,
  DEFAULT_COST_MODEL,
  fixedCost,
  validateCostChange,
  type CostChangeRequest,
  type CostChangeResult,
  type CostModel,
} from './cost-model.js';
import { loadEchartsSource, renderMarginHtml } from './html.js';
import { marginReport, type MarginReport } from './margin.js';
import { assertNoisyFactor, noisyNeighbours, type NoisyReport } from './noisy.js';
import {
  monthOf,
  monthWindow,
  parseHour,
  parseInstant,
  previousMonth,
  tenantLimits,
  tenantUsage,
  type TenantLimits,
  type TenantUsage,
} from './usage.js';
import { marginColumns, marginDetails } from './views.js';

/** The insight commands' entry points: each checks its input, opens the platform, reads, computes. */

function costCatalog(platform: Platform): CostCatalog {
  return new CostCatalog(platform.clients.documents(), platform.config.tables.controlPlane);
}

/** The stored cost model, or the defaults with a warning when none is stored. */
export async function loadCostModel(platform: Platform, reporter?: Reporter): Promise<CostModel> {
  const stored = await costCatalog(platform).get();
  if (stored) return stored;
  reporter?.warn('No cost model is stored: using the defaults (store them with `saasctl tier seed`).');
  return DEFAULT_COST_MODEL;
}

export interface CostShowResult {
  readonly stored: boolean;
  readonly model: CostModel;
  /** Each metric with what its unit cost is charged on. */
  readonly metrics: readonly {
    readonly metric: string;
    readonly usd: number;
    readonly per: number;
    readonly basis: string;
  }[];
  /** Each tier of the catalog: its price and fixed cost. */
  readonly tiers: readonly {
    readonly tier: string;
    readonly isolation: IsolationModel;
    readonly monthlyPrice: number;
    readonly fixedMonthlyUsd: number;
  }[];
}

export async function runCostShow(open: PlatformSource, reporter?: Reporter): Promise<CostShowResult> {
  const platform = await open();
  const stored = await costCatalog(platform).get();
  const model = stored ?? DEFAULT_COST_MODEL;
  if (!stored)
    reporter?.warn('No cost model is stored: these are the defaults (`saasctl tier seed` stores them).');
  const registry = new MetricRegistry();
  const tiers = await catalogs(platform).tiers.list();
  return {
    stored: stored !== undefined,
    model,
    metrics: model.metrics.map((m) => {
      const definition = registry.get(m.metric);
      const unit = definition?.unit ?? 'units';
      const basis =
        definition?.aggregation === 'max'
          ? `per ${m.per === 1 ? '' : `${m.per.toLocaleString('en-US')} `}${unit}-month (hourly values averaged over the month)`
          : `per ${m.per.toLocaleString('en-US')} ${unit}`;
      return { ...m, basis };
    }),
    tiers: [...tiers]
      .sort((a, b) => a.monthlyPrice - b.monthlyPrice)
      .map((t) => ({
        tier: t.name,
        isolation: t.isolation,
        monthlyPrice: t.monthlyPrice,
        fixedMonthlyUsd: fixedCost(model, t.name),
      })),
  };
}

export async function runCostSet(
  open: PlatformSource,
  request: CostChangeRequest,
): Promise<CostChangeResult> {
  const change = validateCostChange(request, new MetricRegistry());
  const platform = await open();
  if (change.kind === 'tier') await catalogs(platform).tiers.require(change.cost.tier);
  return costCatalog(platform).change(change, await platform.actor());
}

function counters(platform: Platform): UsageCounters {
  return new UsageCounters(platform.clients.documents(), platform.config.tables.usage);
}

/** `tenant usage`: the month (default the current one) by metric and day against the plan. */
export async function runTenantUsage(
  open: PlatformSource,
  tenantId: string,
  month: string | undefined,
  now: Date = new Date(),
): Promise<TenantUsage> {
  const id = assertTenantId(tenantId);
  const window = monthWindow(month ?? monthOf(now));
  const platform = await open();
  const { catalog, tiers } = catalogs(platform);
  const tenant = await catalog.require(id);
  const tier = await tiers.get(tenant.tier);
  const list = await counters(platform).list({ from: window.from, to: window.to, tenantId: id });
  return tenantUsage(id, tier, tenant.tier, list, window, new MetricRegistry());
}

/** `tenant limits`: usage now (or --at) against the plan. */
export async function runTenantLimits(
  open: PlatformSource,
  tenantId: string,
  at: string | undefined,
  now: Date = new Date(),
): Promise<TenantLimits> {
  const id = assertTenantId(tenantId);
  const instant = at === undefined ? now : parseInstant(at, '--at');
  const hour = hourOfDate(instant);
  const window = monthWindow(hour.slice(0, 7));
  const platform = await open();
  const { catalog, tiers } = catalogs(platform);
  const tenant = await catalog.require(id);
  const tier = await tiers.get(tenant.tier);
  const list = await counters(platform).list({ from: window.from, to: hour, tenantId: id });
  return tenantLimits(id, tier, tenant.tier, list, instant, new MetricRegistry());
}

export const MARGIN_FORMATS = ['table', 'json', 'html'] as const;
export type MarginFormat = (typeof MARGIN_FORMATS)[number];

export interface MarginRequest {
  /** YYYY-MM; default the last complete month. */
  readonly month?: string;
  readonly format?: string;
  /** Write the rendered report to this file instead of stdout. */
  readonly out?: string;
}

export interface MarginRun {
  readonly report: MarginReport;
  readonly format: MarginFormat;
  /** The report as the format renders it. */
  readonly rendered: string;
  /** The file written, when --out was given. */
  readonly out?: string;
}

export async function runMarginReport(
  open: PlatformSource,
  request: MarginRequest,
  reporter: Reporter,
  now: Date = new Date(),
): Promise<MarginRun> {
  const window = monthWindow(request.month ?? previousMonth(now));
  const format = (request.format ?? 'table') as MarginFormat;
  if (!MARGIN_FORMATS.includes(format)) {
    throw usageError('INVALID_FORMAT', `Invalid format "${request.format}": table, json or html.`);
  }
  const out = request.out === undefined ? undefined : await outputPath(request.out);
  const platform = await open();
  const { catalog, tiers } = catalogs(platform);
  const step = reporter.step(`read the catalog, the cost model and the counters of ${window.month}`);
  const [tenantList, tierList, costModel, counterList] = await Promise.all([
    catalog.list(),
    tiers.list(),
    loadCostModel(platform, reporter),
    counters(platform).list({ from: window.from, to: window.to }),
  ]);
  step.done(`${tenantList.length} tenants, ${counterList.length} counters`);
  const report = marginReport({
    window,
    tenants: tenantList,
    tiers: tierList,
    costModel,
    counters: counterList,
    registry: new MetricRegistry(),
  });
  for (const note of report.notes) reporter.warn(note);
  const rendered = await renderMargin(report, format);
  if (out) {
    try {
      await writeFile(out, rendered);
    } catch (err) {
      throw new SaasctlError('OUTPUT_NOT_WRITTEN', `Cannot write ${out}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return { report, format, rendered, ...(out ? { out } : {}) };
}

export async function renderMargin(report: MarginReport, format: MarginFormat): Promise<string> {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'html':
      return renderMarginHtml(report, await loadEchartsSource());
    case 'table': {
      const table =
        report.tenants.length === 0
          ? 'No tenants in this month.'
          : await renderTable(report.tenants, marginColumns);
      return `${table}\n${marginDetails(report)}`;
    }
  }
}

/** --out: an absolute path whose folder exists (checked before anything is read). */
async function outputPath(out: string): Promise<string> {
  const file = path.resolve(out);
  const folder = await stat(path.dirname(file)).catch(() => undefined);
  if (!folder?.isDirectory()) {
    throw usageError(
      'INVALID_OUT',
      `Invalid --out ${JSON.stringify(out)}: the folder ${path.dirname(file)} does not exist.`,
    );
  }
  if ((await stat(file).catch(() => undefined))?.isDirectory()) {
    throw usageError('INVALID_OUT', `Invalid --out ${JSON.stringify(out)}: it is a folder; name a file.`);
  }
  return file;
}

export interface NoisyRequest {
  /** YYYY-MM-DDTHH or ISO 8601; default the last complete hour. */
  readonly hour?: string;
  readonly factor?: string | number;
}

export async function runNoisyNeighbours(
  open: PlatformSource,
  request: NoisyRequest,
  now: Date = new Date(),
): Promise<NoisyReport> {
  const hour =
    request.hour === undefined ? hourOfDate(new Date(now.getTime() - HOUR_MS)) : parseHour(request.hour);
  const factor = request.factor === undefined ? undefined : assertNoisyFactor(request.factor);
  const platform = await open();
  const { catalog, tiers } = catalogs(platform);
  const [tenantList, tierList, counterList] = await Promise.all([
    catalog.list(),
    tiers.list(),
    counters(platform).list({ from: hour, to: hour }),
  ]);
  return noisyNeighbours({
    hour,
    counters: counterList,
    tenants: tenantList,
    tiers: tierList,
    registry: new MetricRegistry(),
    ...(factor === undefined ? {} : { factor }),
  });
}
