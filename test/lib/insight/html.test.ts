import { expect } from 'chai';

import {
  escapeHtml,
  loadEchartsSource,
  renderMarginHtml,
  scriptJson,
} from '../../../src/lib/insight/html.js';
import { marginReport } from '../../../src/lib/insight/margin.js';
import { monthWindow } from '../../../src/lib/insight/usage.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { COSTS, counter, tenant, TIERS } from './fixtures.js';

const hostile = { ...tenant('evil', 'starter'), name: '</script><script>alert("x")</script>' };
const report = marginReport({
  window: monthWindow('2026-11'),
  tenants: [hostile, tenant('acme', 'pro')],
  tiers: TIERS,
  costModel: COSTS,
  counters: [
    counter('evil', 'doc.processed', '2026-11-02T00', 200),
    counter('acme', 'api.call', '2026-11-02T00', 10),
  ],
  registry: new MetricRegistry(),
});

describe('the margin report as HTML', () => {
  const html = renderMarginHtml(report, 'window.echarts = { marker: "ECHARTS-SOURCE" };');

  it('inlines the charting library, the data and the page script: nothing is fetched', () => {
    expect(html).to.contain('<script>window.echarts = { marker: "ECHARTS-SOURCE" };</script>');
    expect(html).to.not.match(/<script[^>]+src=/);
    expect(html).to.not.match(/<link[^>]+href=/);
    expect(html).to.contain("renderer: 'svg'");
    const data = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
    expect(JSON.parse(data?.[1] ?? 'null')).to.deep.equal({
      month: '2026-11',
      tenants: [
        { id: 'evil', tier: 'starter', revenue: 49, cost: 100, margin: -51, multiple: 1, flagged: true },
        { id: 'acme', tier: 'pro', revenue: 290, cost: 0, margin: 290, multiple: 1, flagged: false },
      ],
    });
  });

  it("escapes tenants' names in the table and keeps </script> out of the data", () => {
    expect(html).to.contain('&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html.match(/<\/script>/g)).to.have.length(3);
    expect(scriptJson({ a: '</script>\u2028' })).to.equal('{"a":"\\u003c/script>\\u2028"}');
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
  });

  it('marks flagged rows and states the totals and the recommendation', () => {
    expect(html).to.contain('<tr class="flagged">\n<td>evil</td>');
    expect(html).to.contain('2 tenants, 1 with a negative margin.');
    expect(html).to.contain('Upgrade to pro: $290.00/month covers its cost to serve of $100.00');
  });

  it('loads the installed ECharts 6.1.0 browser build', async () => {
    const source = await loadEchartsSource();
    expect(source.length).to.be.greaterThan(500_000);
    expect(source).to.contain('version="6.1.0"');
    expect(source).to.not.match(/<\/script/i);
  });
});
