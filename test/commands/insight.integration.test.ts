import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';

import type { ReportMarginResult } from '../../src/commands/report/margin.js';
import type { CostChangeResult } from '../../src/lib/insight/cost-model.js';
import { DEFAULT_COST_MODEL } from '../../src/lib/insight/cost-model.js';
import { renderMarginHtml } from '../../src/lib/insight/html.js';
import type { NoisyReport } from '../../src/lib/insight/noisy.js';
import type { CostShowResult } from '../../src/lib/insight/run.js';
import type { TenantLimits, TenantUsage } from '../../src/lib/insight/usage.js';
import { startStack } from '../../src/lib/local/admin.js';
import type { StackOwner } from '../../src/lib/local/stack.js';
import type { SimulateResult } from '../../src/lib/metering/run-simulate.js';
import { run, spawnCli, tempHome, type ErrorEnvelope } from '../helpers/cli.js';

const CHROMIUM = process.env.CHROMIUM ?? 'chromium';
const RED = '#c0392b';
const BLUE = '#2c6fbb';

/** The DOM of a page after its scripts ran, as headless Chromium dumps it. */
function dumpDom(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--virtual-time-budget=5000',
        '--dump-dom',
        `file://${file}`,
      ],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

/** The rendered content of one chart container (the page also holds ECharts' source text). */
function chart(dom: string, id: string, next: string): string {
  const start = dom.indexOf(`<div id="${id}"`);
  const end = dom.indexOf(next, start);
  expect(start, `no #${id}`).to.be.greaterThan(-1);
  return dom.slice(start, end);
}

/** The <body> start tag: where the page records how its charts went (its script text names the same attributes). */
function bodyTag(dom: string): string {
  return /<body[^>]*>/.exec(dom)?.[0] ?? '';
}

function filledPaths(svg: string, colour: string): number {
  return (svg.match(new RegExp(`<path [^>]*fill="${colour}"`, 'g')) ?? []).length;
}

describe('operator insight on the embedded stack', function () {
  this.timeout(240_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;
  // Six tenants on one plan: the simulation's Zipf ranking gives the heaviest about twice the
  // usage of the next, so with one price the heaviest alone can cost more than it pays. (On a
  // mixed starter/pro catalog the second-heaviest starter is legitimately flagged too.)
  const tenants = ['pro-01', 'pro-02', 'pro-03', 'pro-04', 'pro-05', 'pro-06'];
  // A fixed past week: the same plan every run, whatever today is.
  const month = '2025-01';
  let simulated: SimulateResult;
  let margin: ReportMarginResult;
  let heavy: string;

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
    for (const id of tenants) {
      const onboarded = await run(
        [
          'tenant',
          'onboard',
          id,
          '--tier',
          'pro',
          '--name',
          `Pro ${id}`,
          '--admin-email',
          `ops@${id}.test`,
          '--json',
        ],
        home,
      );
      expect(onboarded.exitCode, onboarded.stdout).to.equal(0);
    }
  });
  after(async () => {
    await owner.stop();
    dispose();
  });

  it('starts with the default cost model stored by the local bootstrap', async () => {
    const shown = await run(['cost', 'show', '--json'], home);
    expect(shown.exitCode, shown.stdout).to.equal(0);
    const result = shown.json as CostShowResult;
    expect(result.stored).to.equal(true);
    expect(result.model.metrics).to.deep.equal(DEFAULT_COST_MODEL.metrics);
    expect(result.tiers.find((t) => t.tier === 'enterprise')).to.deep.equal({
      tier: 'enterprise',
      isolation: 'silo',
      monthlyPrice: 4900,
      fixedMonthlyUsd: 1200,
    });
  });

  it('simulates a week of usage with one heavy tenant', async () => {
    const result = await spawnCli(
      [
        'metering',
        'simulate',
        '--tenants',
        '6',
        '--events',
        '3200',
        '--from',
        '2025-01-06T00:00:00Z',
        '--to',
        '2025-01-13T00:00:00Z',
        '--seed',
        '11',
        '--json',
      ],
      home,
    );
    expect(result.exitCode, result.stderr + result.stdout).to.equal(0);
    simulated = result.json as SimulateResult;
    expect(simulated.tenants).to.deep.equal({ used: 6, onboarded: [] });
    heavy = simulated.heavyTenants[0].tenantId;
  });

  it('flags the heavy tenant, and only it, with the tier that covers its cost', async () => {
    const result = await run(['report', 'margin', '--month', month, '--json'], home);
    expect(result.exitCode, result.stdout).to.equal(0);
    margin = result.json as ReportMarginResult;
    expect(margin.tenants.map((t) => t.tenantId).sort()).to.deep.equal(tenants);
    expect(margin.flagged).to.deep.equal([heavy]);

    const row = margin.tenants[0];
    expect(row.tenantId).to.equal(heavy);
    expect(row.revenue).to.equal(290);
    expect(row.cost).to.be.greaterThan(290);
    expect(row.margin).to.equal(Math.round((290 - row.cost) * 100) / 100);
    // Far above its tier's average, and the most of anyone.
    const multiples = margin.tenants.map((t) => t.usageMultiple ?? 0);
    expect(row.usageMultiple).to.equal(Math.max(...multiples));
    expect(row.usageMultiple).to.be.greaterThan(2);
    // Business ($990) covers the same usage plus its $25 fixed cost.
    expect(row.recommendation).to.deep.include({
      action: 'upgrade',
      tier: 'business',
      price: 990,
      costOnTier: Math.round((row.cost + 25) * 100) / 100,
    });
    for (const other of margin.tenants.slice(1)) {
      expect(other.flagged, other.tenantId).to.equal(false);
      expect(other.margin, other.tenantId).to.be.at.least(0);
      expect(other.recommendation).to.equal(undefined);
    }
    expect(margin.totals.revenue).to.equal(6 * 290);
  });

  it('prints the table with the numbers behind the recommendation', async () => {
    const result = await run(['report', 'margin', '--month', month], home);
    expect(result.exitCode, result.stderr).to.equal(0);
    expect(result.stdout).to.contain(heavy);
    expect(result.stdout).to.contain(
      `${heavy} (pro): Upgrade to business: $990.00/month covers its cost to serve`,
    );
    expect(result.stdout).to.contain('1 of 6 tenants below zero');
  });

  it('writes an HTML report whose charts render in headless Chromium', async () => {
    const out = path.join(path.dirname(home), 'margin.html');
    const result = await run(
      ['report', 'margin', '--month', month, '--format', 'html', '--out', out, '--json'],
      home,
    );
    expect(result.exitCode, result.stdout).to.equal(0);
    expect((result.json as ReportMarginResult).out).to.equal(out);

    const dom = await dumpDom(out);
    expect(bodyTag(dom)).to.contain('data-charts-rendered="2"');
    expect(bodyTag(dom)).to.not.contain('data-chart-error');
    expect(dom).to.not.contain('id="chart-error"');
    const usage = chart(dom, 'chart-usage-cost', '<div id="chart-margin"');
    const bars = chart(dom, 'chart-margin', '<table>');
    for (const svg of [usage, bars]) expect(svg).to.contain('<svg');
    // One bar per tenant, red for the flagged one; one cost point per tenant, coloured alike.
    expect(filledPaths(bars, RED)).to.equal(1);
    expect(filledPaths(bars, BLUE)).to.equal(5);
    expect(filledPaths(usage, RED)).to.equal(1);
    expect(filledPaths(usage, BLUE)).to.equal(5);
  });

  it('marks the page when the charts cannot be drawn (what the test above relies on)', async () => {
    const broken = path.join(path.dirname(home), 'broken.html');
    writeFileSync(broken, renderMarginHtml(margin, '/* ECharts missing */'));
    const dom = await dumpDom(broken);
    expect(bodyTag(dom)).to.contain('data-chart-error="ECharts did not load"');
    expect(bodyTag(dom)).to.not.contain('data-charts-rendered');
    expect(dom).to.contain('id="chart-error"');
  });

  it("shows the heavy tenant's usage by day against its plan's limits", async () => {
    const result = await run(['tenant', 'usage', heavy, '--month', month, '--json'], home);
    expect(result.exitCode, result.stdout).to.equal(0);
    const usage = result.json as TenantUsage;
    const docs = usage.metrics.find((m) => m.metric === 'doc.processed');
    expect(docs).to.include({ limit: 200, status: 'over' });
    const byDay = usage.days.reduce((sum, d) => sum + (d.usage['doc.processed'] ?? 0), 0);
    expect(byDay).to.equal(docs?.quantity);
    expect(usage.days.map((d) => d.day)).to.deep.equal(
      ['06', '07', '08', '09', '10', '11', '12'].map((d) => `2025-01-${d}`),
    );
    // The margin report priced the same quantity.
    const priced = margin.tenants[0].metrics.find((m) => m.metric === 'doc.processed');
    expect(priced?.billable).to.equal(docs?.quantity);
  });

  it('tells to throttle the heavy tenant and not the lightest', async () => {
    const at = '2025-01-12T12:00:00Z';
    const heavyLimits = await run(['tenant', 'limits', heavy, '--at', at, '--json'], home);
    expect(heavyLimits.exitCode, heavyLimits.stdout).to.equal(0);
    const limits = heavyLimits.json as TenantLimits;
    expect(limits).to.include({ hour: '2025-01-12T12', month, throttle: true });
    expect(limits.metrics.find((m) => m.metric === 'doc.processed')).to.include({ advice: 'throttle' });

    const lightest = margin.tenants[margin.tenants.length - 1].tenantId;
    const light = (await run(['tenant', 'limits', lightest, '--at', at, '--json'], home))
      .json as TenantLimits;
    expect(light.metrics.find((m) => m.metric === 'doc.processed')).to.include({ advice: 'ok' });
  });

  it('finds the tenant that crowds an hour of the pool', async () => {
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000);
    const ts = new Date(hour.getTime() + 600_000).toISOString().replace('.000Z', 'Z');
    for (const [tenant, quantity] of [
      ['pro-01', '50000'],
      ['pro-02', '100'],
    ]) {
      const emitted = await run(
        [
          'metering',
          'emit',
          '--tenant',
          tenant,
          '--metric',
          'api.call',
          '--quantity',
          quantity,
          '--ts',
          ts,
          '--json',
        ],
        home,
      );
      expect(emitted.exitCode, emitted.stdout).to.equal(0);
    }
    const pumped = await run(['metering', 'pump', '--json'], home);
    expect(pumped.exitCode, pumped.stdout).to.equal(0);

    const hourKey = ts.slice(0, 13);
    const result = await run(['report', 'noisy-neighbours', '--hour', hourKey, '--json'], home);
    expect(result.exitCode, result.stdout).to.equal(0);
    const report = result.json as NoisyReport;
    // 50,000 of 50,100 calls against an expected sixth; above pro's 1,000,000 / hours-in-month.
    expect(report.noisy.map((n) => [n.tenantId, n.metric, n.quantity])).to.deep.equal([
      ['pro-01', 'api.call', 50_000],
    ]);
    expect(report.noisy[0].share).to.equal(Math.round((50_000 / 50_100) * 10_000) / 10_000);
    expect(report.noisy[0].expectedShare).to.equal(Math.round((1 / 6) * 10_000) / 10_000);
    expect(report.metrics).to.deep.equal([
      { metric: 'api.call', total: 50_100, activeTenants: 2, poolTenants: 6 },
    ]);

    const lenient = await run(
      ['report', 'noisy-neighbours', '--hour', hourKey, '--factor', '6', '--json'],
      home,
    );
    expect((lenient.json as NoisyReport).noisy).to.deep.equal([]);
  });

  it('refuses bad cost model input with exit 2, naming the rule', async () => {
    const cases: [string[], string][] = [
      [['--metric', 'api.calls', '--per-1000', '1'], 'UNKNOWN_METRIC'],
      [['--tier', 'platinum', '--fixed-monthly', '5'], 'UNKNOWN_TIER'],
      [['--metric', 'api.call', '--per-1000', '-3'], 'INVALID_UNIT_COST'],
      [['--metric', 'api.call'], 'UNIT_COST_REQUIRED'],
    ];
    for (const [flags, code] of cases) {
      const result = await run(['cost', 'set', ...flags, '--json'], home);
      expect(result.exitCode, flags.join(' ')).to.equal(2);
      expect((result.json as ErrorEnvelope).error.code).to.equal(code);
    }
    const badMonth = await run(['report', 'margin', '--month', '2025-13', '--json'], home);
    expect(badMonth.exitCode).to.equal(2);
    expect((badMonth.json as ErrorEnvelope).error.code).to.equal('INVALID_MONTH');
  });

  it('recomputes margins from a changed cost model', async () => {
    const set = await run(['cost', 'set', '--metric', 'doc.processed', '--per-1000', '300', '--json'], home);
    expect(set.exitCode, set.stdout).to.equal(0);
    const change = set.json as CostChangeResult;
    expect(change).to.deep.include({
      changed: true,
      previous: { metric: 'doc.processed', usd: 1000, per: 1000 },
    });
    expect(change.model.version).to.equal(2);

    const again = (await run(['report', 'margin', '--month', month, '--json'], home))
      .json as ReportMarginResult;
    const before = margin.tenants.find((t) => t.tenantId === heavy);
    const after = again.tenants.find((t) => t.tenantId === heavy);
    const docs = before?.metrics.find((m) => m.metric === 'doc.processed')?.billable ?? 0;
    // Only the document cost changed: 0.3 of what it was.
    expect(after?.cost).to.be.closeTo((before?.cost ?? 0) - docs * 0.7, 0.011);
    expect(again.flagged).to.deep.equal([]);
  });
});
