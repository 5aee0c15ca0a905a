import { expect } from 'chai';

import { ledgerTotals } from '../../../src/lib/metering/billing.js';
import type { UsageCounter } from '../../../src/lib/metering/counters.js';
import {
  assertExportFormat,
  exportRows,
  formatExport,
  monthPeriod,
  type ExportRow,
} from '../../../src/lib/metering/export.js';
import type { LedgerRecord } from '../../../src/lib/metering/ledger.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import { thrownBy } from '../helpers/aws.js';

function counter(tenantId: string, metric: string, hour: string, quantity: number): UsageCounter {
  return { tenantId, metric, hour, quantity, updatedAt: '2026-12-01T00:00:00.000Z' };
}

function record(
  tenantId: string,
  hour: string,
  state: LedgerRecord['state'],
  covers: Record<string, number>,
): LedgerRecord {
  return {
    tenantId,
    dimension: 'api_calls',
    hour,
    timestamp: `${hour}:00:00.000Z`,
    quantity: Object.values(covers).reduce((a, b) => a + b, 0),
    customer: { customerIdentifier: 'c' },
    covers,
    state,
    runId: 'r',
    attempts: 1,
    createdAt: 'x',
    updatedAt: 'x',
  };
}

describe('metering export', () => {
  it('takes a month as YYYY-MM, from its first hour to its last, and refuses anything else', () => {
    expect(monthPeriod('2026-02')).to.deep.equal({
      month: '2026-02',
      from: '2026-02-01T00',
      to: '2026-02-28T23',
    });
    expect(monthPeriod('2028-02').to).to.equal('2028-02-29T23');
    for (const bad of ['2026-13', '2026-1', 'november']) {
      expect(thrownBy(() => monthPeriod(bad)).code).to.equal('INVALID_MONTH');
    }
    expect(thrownBy(() => assertExportFormat('xml')).code).to.equal('INVALID_FORMAT');
  });

  it('totals each tenant and metric over the month, with what Marketplace accepted for those counters', () => {
    const period = monthPeriod('2026-11');
    const counters = [
      counter('globex', 'api.call', '2026-11-30T23', 4),
      counter('acme', 'storage.gb', '2026-11-02T10', 1.25),
      counter('acme', 'storage.gb', '2026-11-02T11', 2.5),
      counter('acme', 'api.call', '2026-11-02T10', 10),
      counter('acme', 'api.call', '2026-12-01T00', 99),
    ];
    const ledger = [
      record('acme', '2026-11-02T10', 'ACCEPTED', { 'api.call#2026-11-02T10': 7 }),
      // A delta for November, carried into December: still November's usage.
      record('acme', '2026-12-01T02', 'ACCEPTED', {
        'api.call#2026-11-02T10': 3,
        'api.call#2026-12-01T00': 99,
      }),
      record('globex', '2026-11-30T23', 'REJECTED', { 'api.call#2026-11-30T23': 4 }),
    ];

    expect(exportRows(period, counters, ledger, new MetricRegistry())).to.deep.equal([
      {
        month: '2026-11',
        tenantId: 'acme',
        metric: 'api.call',
        unit: 'calls',
        aggregation: 'sum',
        quantity: 10,
        hours: 1,
        marketplaceUnits: 10,
      },
      {
        month: '2026-11',
        tenantId: 'acme',
        metric: 'storage.gb',
        unit: 'GB',
        aggregation: 'max',
        quantity: 3.75,
        hours: 2,
        marketplaceUnits: 0,
      },
      {
        month: '2026-11',
        tenantId: 'globex',
        metric: 'api.call',
        unit: 'calls',
        aggregation: 'sum',
        quantity: 4,
        hours: 1,
        marketplaceUnits: 0,
      },
    ]);
  });

  it('writes RFC 4180 CSV with a header, and NDJSON with one row per line', () => {
    const rows: ExportRow[] = [
      {
        month: '2026-11',
        tenantId: 'acme',
        metric: 'api.call',
        unit: 'calls, "metered"',
        aggregation: 'sum',
        quantity: 10,
        hours: 1,
        marketplaceUnits: 10,
      },
    ];
    expect(formatExport(rows, 'csv')).to.equal(
      'month,tenantId,metric,unit,aggregation,quantity,hours,marketplaceUnits\r\n' +
        '2026-11,acme,api.call,"calls, ""metered""",sum,10,1,10\r\n',
    );
    expect(
      formatExport(rows, 'ndjson')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ).to.deep.equal(rows);
    expect(formatExport([], 'ndjson')).to.equal('');
  });

  it('totals the ledger by state and by tenant and dimension', () => {
    const records = [
      record('acme', '2026-11-02T10', 'ACCEPTED', { a: 7 }),
      record('acme', '2026-11-02T11', 'ACCEPTED', { a: 3 }),
      record('globex', '2026-11-02T11', 'REJECTED', { a: 4 }),
    ];
    const { totals, byDimension } = ledgerTotals(records);

    expect(totals).to.deep.include({ records: 3, units: 14 });
    expect(totals.byState.ACCEPTED).to.deep.equal({ records: 2, units: 10 });
    expect(totals.byState.REJECTED).to.deep.equal({ records: 1, units: 4 });
    expect(totals.byState.SENT).to.deep.equal({ records: 0, units: 0 });
    expect(
      byDimension.map((d) => [d.tenantId, d.dimension, d.units.ACCEPTED, d.units.REJECTED]),
    ).to.deep.equal([
      ['acme', 'api_calls', 10, 0],
      ['globex', 'api_calls', 0, 4],
    ]);
  });
});
