import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { SaasctlError } from '../cli/errors.js';
import type { MarginReport } from './margin.js';
import { usd } from './views.js';

/**
 * The margin report as one self-contained HTML file: the data, ECharts (inlined, drawn with its
 * SVG renderer so the charts are in the DOM) and two charts: cost to serve and revenue against
 * usage (as a multiple of the tier's average), and margin by tenant. On any failure the page
 * marks itself (`data-chart-error` on <body> and a visible #chart-error); once both charts are
 * drawn it sets `data-charts-rendered="2"`.
 */

let echartsSource: Promise<string> | undefined;

/** ECharts' minified browser build from the installed package, read once. */
export function loadEchartsSource(): Promise<string> {
  echartsSource ??= (async () => {
    const require = createRequire(import.meta.url);
    // The package exports its CommonJS build (dist/echarts.js); the minified one sits beside it.
    const file = path.join(path.dirname(require.resolve('echarts')), 'echarts.min.js');
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new SaasctlError('ECHARTS_MISSING', `Cannot read ECharts at ${file}: ${(err as Error).message}`, {
        cause: err,
        actions: ['Reinstall the dependencies with `npm ci`.'],
      });
    }
  })();
  return echartsSource;
}

/** Text for an HTML element or attribute. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON that is safe inside a <script> element (no `</script>`, no line separators). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** What the page's script draws: only what the charts need. */
export function chartData(report: MarginReport): {
  month: string;
  tenants: {
    id: string;
    tier: string;
    revenue: number;
    cost: number;
    margin: number;
    multiple: number | null;
    flagged: boolean;
  }[];
} {
  return {
    month: report.month,
    tenants: report.tenants.map((t) => ({
      id: t.tenantId,
      tier: t.tier,
      revenue: t.revenue,
      cost: t.cost,
      margin: t.margin,
      multiple: t.usageMultiple,
      flagged: t.flagged,
    })),
  };
}

// Runs in the browser: plain ES5-style script, no imports.
const PAGE_SCRIPT = `
(function () {
  function fail(message) {
    if (document.body.getAttribute('data-chart-error')) return;
    document.body.setAttribute('data-chart-error', message);
    var box = document.createElement('div');
    box.id = 'chart-error';
    box.textContent = 'The charts could not be drawn: ' + message;
    document.body.insertBefore(box, document.body.firstChild);
  }
  window.addEventListener('error', function (event) { fail(String(event.message || 'script error')); });
  try {
    if (typeof echarts === 'undefined') throw new Error('ECharts did not load');
    var data = JSON.parse(document.getElementById('report-data').textContent);
    var red = '#c0392b', blue = '#2c6fbb', grey = '#7f8c8d';
    var usage = echarts.init(document.getElementById('chart-usage-cost'), null, { renderer: 'svg' });
    usage.setOption({
      animation: false,
      title: { text: 'Cost to serve and revenue against usage, ' + data.month },
      tooltip: { trigger: 'item', formatter: function (p) { return p.data.name + ': ' + p.seriesName + ' $' + p.data.value[1].toFixed(2) + ' at ' + p.data.value[0] + ' x its tier average'; } },
      legend: { top: 28, data: ['cost to serve', 'revenue'] },
      grid: { top: 70, left: 70, right: 30, bottom: 50 },
      xAxis: { type: 'value', name: 'usage (x tier average)', nameLocation: 'middle', nameGap: 30 },
      yAxis: { type: 'value', name: 'USD / month' },
      series: [
        { name: 'cost to serve', type: 'scatter', symbolSize: 12, data: data.tenants.map(function (t) {
          return { name: t.id, value: [t.multiple === null ? 0 : t.multiple, t.cost], itemStyle: { color: t.flagged ? red : blue } };
        }) },
        { name: 'revenue', type: 'scatter', symbol: 'diamond', symbolSize: 10, itemStyle: { color: grey }, data: data.tenants.map(function (t) {
          return { name: t.id, value: [t.multiple === null ? 0 : t.multiple, t.revenue] };
        }) }
      ]
    });
    var margin = echarts.init(document.getElementById('chart-margin'), null, { renderer: 'svg' });
    margin.setOption({
      animation: false,
      title: { text: 'Margin by tenant, ' + data.month },
      tooltip: { trigger: 'axis' },
      grid: { top: 50, left: 70, right: 30, bottom: 90 },
      xAxis: { type: 'category', data: data.tenants.map(function (t) { return t.id; }), axisLabel: { rotate: 45 } },
      yAxis: { type: 'value', name: 'USD / month' },
      series: [{ name: 'margin', type: 'bar', data: data.tenants.map(function (t) {
        return { value: t.margin, itemStyle: { color: t.margin < 0 ? red : blue } };
      }) }]
    });
    document.body.setAttribute('data-echarts-version', echarts.version);
    document.body.setAttribute('data-charts-rendered', '2');
  } catch (error) {
    fail(error && error.message ? error.message : String(error));
  }
})();
`;

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 1.4em; }
.chart { width: 960px; height: 440px; margin: 16px 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
tr.flagged td { background: #fdecea; }
#chart-error { background: #fdecea; color: #c0392b; padding: 8px; border: 1px solid #c0392b; }
.notes { color: #555; }
`;

export function renderMarginHtml(report: MarginReport, echarts: string): string {
  const rows = report.tenants
    .map(
      (t) => `<tr class="${t.flagged ? 'flagged' : ''}">
<td>${escapeHtml(t.tenantId)}</td><td class="text">${escapeHtml(t.name)}</td><td class="text">${escapeHtml(t.tier)}</td>
<td>${usd(t.revenue)}</td><td>${usd(t.cost)}</td><td>${usd(t.margin)}</td>
<td>${t.marginPct === null ? '' : `${t.marginPct} %`}</td><td>${t.usageMultiple === null ? '' : `${t.usageMultiple}x`}</td>
<td class="text">${t.recommendation ? escapeHtml(t.recommendation.summary) : ''}</td></tr>`,
    )
    .join('\n');
  const notes = report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  const { totals } = report;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>saasctl margin report ${escapeHtml(report.month)}</title>
<style>${STYLE}</style>
</head>
<body data-report="margin" data-month="${escapeHtml(report.month)}">
<h1>Margin by tenant, ${escapeHtml(report.month)}</h1>
<p>Revenue ${usd(totals.revenue)}, cost to serve ${usd(totals.cost)}, margin ${usd(totals.margin)};
${totals.tenants} tenants, ${totals.flagged} with a negative margin.</p>
<div id="chart-usage-cost" class="chart"></div>
<div id="chart-margin" class="chart"></div>
<table>
<thead><tr><th>tenant</th><th>name</th><th>tier</th><th>revenue</th><th>cost to serve</th><th>margin</th><th>margin %</th><th>usage vs tier</th><th>recommendation</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${notes ? `<ul class="notes">${notes}</ul>` : ''}
<script type="application/json" id="report-data">${scriptJson(chartData(report))}</script>
<script>${echarts.replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
