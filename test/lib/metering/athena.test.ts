import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsOutput,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import {
  athenaAggregate,
  athenaEngineFor,
  buildReconcileQuery,
  RESULT_COLUMNS,
  sqlString,
  type AthenaAggregateDependencies,
} from '../../../src/lib/metering/athena.js';
import type { LakeAggregationRequest } from '../../../src/lib/metering/lake-aggregate.js';
import { localPlatformConfig, type PlatformConfig } from '../../../src/lib/platform/config.js';
import { awsError, rejectionOf, thrownBy } from '../helpers/aws.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TABLE = { database: 'saasctl_prod', table: 'raw_usage' };
const NOVEMBER: LakeAggregationRequest = {
  from: new Date('2026-11-01T00:00:00Z'),
  to: new Date('2026-12-01T00:00:00Z'),
  lateArrivalHours: 24,
};

/** A result row as GetQueryResults returns it: a NULL is a datum without VarCharValue. */
function row(...values: (string | undefined)[]): { Data: { VarCharValue?: string }[] } {
  return { Data: values.map((value) => (value === undefined ? {} : { VarCharValue: value })) };
}
const HEADER = row(...RESULT_COLUMNS);

function page(rows: ReturnType<typeof row>[], NextToken?: string): GetQueryResultsOutput {
  return { ResultSet: { Rows: rows }, ...(NextToken ? { NextToken } : {}) };
}

function running(State: 'QUEUED' | 'RUNNING'): object {
  return { QueryExecution: { QueryExecutionId: 'q-1', Status: { State } } };
}

const SUCCEEDED = {
  QueryExecution: {
    QueryExecutionId: 'q-1',
    Status: { State: 'SUCCEEDED' as const },
    Statistics: { DataScannedInBytes: 123_456 },
  },
};

describe('metering athena engine', () => {
  describe('buildReconcileQuery', () => {
    it('prunes partitions to the arrival hours from an hour before the period to the late-arrival window', () => {
      expect(buildReconcileQuery({ ...NOVEMBER, ...TABLE })).to.include(
        "WHERE dt BETWEEN '2026/10/31/23' AND '2026/12/01/23'",
      );
      const day = { ...TABLE, from: new Date('2026-11-27T10:30:00Z'), to: new Date('2026-11-27T12:00:00Z') };
      expect(buildReconcileQuery({ ...day, lateArrivalHours: 0 })).to.include(
        "WHERE dt BETWEEN '2026/11/27/10' AND '2026/11/27/11'",
      );
      expect(buildReconcileQuery({ ...day, lateArrivalHours: 3 })).to.include(
        "WHERE dt BETWEEN '2026/11/27/10' AND '2026/11/27/14'",
      );
    });

    it('reads the configured table and keeps only events whose ts is in [from, to)', () => {
      const sql = buildReconcileQuery({ ...NOVEMBER, ...TABLE });
      expect(sql).to.include('FROM "saasctl_prod"."raw_usage"');
      expect(sql).to.include(
        "WHEN event_time < from_iso8601_timestamp('2026-11-01T00:00:00.000Z') " +
          "OR event_time >= from_iso8601_timestamp('2026-12-01T00:00:00.000Z') THEN 'outside'",
      );
    });

    it('filters on the tenant only when one is given, after counting malformed and outside lines', () => {
      const all = buildReconcileQuery({ ...NOVEMBER, ...TABLE });
      expect(all).not.to.include('other-tenant');
      const one = buildReconcileQuery({ ...NOVEMBER, ...TABLE, tenantId: 'acme' });
      expect(one).to.include("WHEN tenantid <> 'acme' THEN 'other-tenant'");
      expect(one.indexOf("THEN 'other-tenant'")).to.be.greaterThan(one.indexOf("THEN 'outside'"));
      expect(one).to.include("WHERE verdict <> 'other-tenant'");
    });

    it('dedups by eventId and aggregates each registry metric with its own aggregation, extras included', () => {
      const sql = buildReconcileQuery({
        ...NOVEMBER,
        ...TABLE,
        metrics: [{ name: 'gpu.peak', unit: 'GPUs', aggregation: 'max', description: 'Peak GPUs.' }],
      });
      expect(sql).to.include('row_number() OVER (PARTITION BY verdict, eventid');
      expect(sql).to.include(
        "CASE metric WHEN 'api.call' THEN sum(quantity) WHEN 'doc.processed' THEN sum(quantity) " +
          "WHEN 'storage.gb' THEN max(quantity) WHEN 'gpu.peak' THEN max(quantity) END AS quantity",
      );
      expect(sql).to.include("metric IN ('api.call', 'doc.processed', 'storage.gb', 'gpu.peak')");
      // The 1e12 cap is for sum metrics only, as validateEvent has it.
      expect(sql).to.include("(metric NOT IN ('api.call', 'doc.processed') OR quantity <= 1E12)");
      expect(sql).to.include("date_format(event_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H')");
    });

    it('holds events to the clock skew allowed against the latest arrival their object key allows', () => {
      // The key's second, plus Firehose's 900 s buffer, plus the 300 s skew: as the stream engine.
      expect(buildReconcileQuery({ ...NOVEMBER, ...TABLE })).to.include(
        "event_time <= arrival + INTERVAL '1201' SECOND",
      );
    });

    it('doubles single quotes in string literals', () => {
      expect(sqlString("it's")).to.equal("'it''s'");
      expect(sqlString("'; DROP TABLE x; --")).to.equal("'''; DROP TABLE x; --'");
    });

    it('refuses a tenant id that is not one before it reaches the SQL', () => {
      const err = thrownBy(() => buildReconcileQuery({ ...NOVEMBER, ...TABLE, tenantId: "acme' OR '1'='1" }));
      expect(err.code).to.equal('INVALID_TENANT_ID');
      expect(err.exitCode).to.equal(2);
    });

    for (const [field, name] of [
      ['database', 'Saasctl_Prod'],
      ['database', 'saasctl-prod'],
      ['table', 'raw_usage"; DROP TABLE x; --'],
      ['table', ''],
      ['table', 'a'.repeat(256)],
    ] as const) {
      it(`refuses the ${field} name ${JSON.stringify(name.slice(0, 40))}`, () => {
        const err = thrownBy(() => buildReconcileQuery({ ...NOVEMBER, ...TABLE, [field]: name }));
        expect(err.code).to.equal('INVALID_ATHENA_IDENTIFIER');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.include(`Invalid Athena ${field} name`);
        expect(err.message).to.include('1-255 lowercase letters, digits and underscores');
      });
    }

    it('accepts a 255-character identifier', () => {
      expect(buildReconcileQuery({ ...NOVEMBER, ...TABLE, table: 'a'.repeat(255) })).to.include(
        `."${'a'.repeat(255)}"`,
      );
    });

    it('refuses an empty or inverted period', () => {
      for (const to of [NOVEMBER.from, new Date('2026-10-01T00:00:00Z'), new Date(Number.NaN)]) {
        const err = thrownBy(() => buildReconcileQuery({ ...NOVEMBER, ...TABLE, to }));
        expect(err.code, String(to)).to.equal('INVALID_PERIOD');
      }
    });
  });

  describe('athenaAggregate', () => {
    let athena: AwsClientStub<AthenaClient>;
    let client: AthenaClient;
    let sleeps: number[];
    let clock: number;

    before(() => {
      athena = mockClient(AthenaClient);
      client = new AthenaClient({ region: 'eu-west-1' });
    });
    after(() => {
      athena.restore();
      client.destroy();
    });
    beforeEach(() => {
      athena.reset();
      sleeps = [];
      clock = 0;
    });

    function deps(overrides: Partial<AthenaAggregateDependencies> = {}): AthenaAggregateDependencies {
      return {
        athena: client,
        workgroup: 'saasctl-prod',
        ...TABLE,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock += ms;
        },
        now: () => clock,
        ...overrides,
      };
    }

    it('starts the query, polls it through QUEUED and RUNNING, and reads every result page', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena
        .on(GetQueryExecutionCommand)
        .resolvesOnce(running('QUEUED'))
        .resolvesOnce(running('RUNNING'))
        .resolvesOnce(SUCCEEDED);
      athena
        .on(GetQueryResultsCommand)
        .resolvesOnce(
          page(
            [
              HEADER,
              row('cell', 'acme', 'api.call', '2026-11-27T10', undefined, '42.0', '40'),
              row('cell', 'acme', 'storage.gb', '2026-11-27T10', undefined, '1.5E1', '3'),
            ],
            'page-2',
          ),
        )
        .resolvesOnce(
          page([
            row('cell', 'globex', 'api.call', '2026-11-30T23', undefined, '1.0', '1'),
            row('duplicate', undefined, undefined, undefined, undefined, undefined, '5'),
            row('foreign', undefined, undefined, undefined, 'raw/2026/11/27/10/notes.txt', undefined, '7'),
            row('malformed', undefined, undefined, undefined, undefined, undefined, '2'),
            row('outside', undefined, undefined, undefined, undefined, undefined, '9'),
          ]),
        );

      const result = await athenaAggregate(deps(), { ...NOVEMBER, tenantId: 'acme' });

      const starts = athena.commandCalls(StartQueryExecutionCommand);
      expect(starts).to.have.length(1);
      const input = starts[0].args[0].input;
      expect(input.ClientRequestToken).to.match(UUID_PATTERN);
      expect(input).to.deep.equal({
        QueryString: buildReconcileQuery({ ...NOVEMBER, ...TABLE, tenantId: 'acme' }),
        WorkGroup: 'saasctl-prod',
        QueryExecutionContext: { Database: 'saasctl_prod' },
        ClientRequestToken: input.ClientRequestToken,
      });
      expect(athena.commandCalls(GetQueryExecutionCommand).map((c) => c.args[0].input)).to.deep.equal([
        { QueryExecutionId: 'q-1' },
        { QueryExecutionId: 'q-1' },
        { QueryExecutionId: 'q-1' },
      ]);
      expect(sleeps).to.deep.equal([500, 1000, 2000]);
      expect(athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input)).to.deep.equal([
        { QueryExecutionId: 'q-1', MaxResults: 1000 },
        { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: 'page-2' },
      ]);
      expect(athena.commandCalls(StopQueryExecutionCommand)).to.have.length(0);
      expect(result).to.deep.equal({
        cells: [
          { tenantId: 'acme', metric: 'api.call', hour: '2026-11-27T10', quantity: 42, events: 40 },
          { tenantId: 'acme', metric: 'storage.gb', hour: '2026-11-27T10', quantity: 15, events: 3 },
          { tenantId: 'globex', metric: 'api.call', hour: '2026-11-30T23', quantity: 1, events: 1 },
        ],
        events: 44,
        duplicates: 5,
        malformed: 2,
        outsidePeriod: 9,
        foreignKeys: ['raw/2026/11/27/10/notes.txt'],
        objects: 0,
        bytes: 123_456,
      });
    });

    it('reports zeros for a period with no events', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves({
        QueryExecution: { Status: { State: 'SUCCEEDED' }, Statistics: { DataScannedInBytes: 0 } },
      });
      athena.on(GetQueryResultsCommand).resolves(page([HEADER]));
      expect(await athenaAggregate(deps(), NOVEMBER)).to.deep.equal({
        cells: [],
        events: 0,
        duplicates: 0,
        malformed: 0,
        outsidePeriod: 0,
        foreignKeys: [],
        objects: 0,
        bytes: 0,
      });
    });

    it('sends a new client request token on each run', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves(SUCCEEDED);
      athena.on(GetQueryResultsCommand).resolves(page([HEADER]));
      await athenaAggregate(deps(), NOVEMBER);
      await athenaAggregate(deps(), NOVEMBER);
      const tokens = athena
        .commandCalls(StartQueryExecutionCommand)
        .map((c) => c.args[0].input.ClientRequestToken);
      expect(tokens).to.have.length(2);
      expect(tokens[0]).not.to.equal(tokens[1]);
    });

    it('doubles the wait between polls up to 5 seconds', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      const polls = athena.on(GetQueryExecutionCommand);
      for (let i = 0; i < 5; i++) polls.resolvesOnce(running('RUNNING'));
      polls.resolves(SUCCEEDED);
      athena.on(GetQueryResultsCommand).resolves(page([HEADER]));
      await athenaAggregate(deps({ pollIntervalMs: 1000 }), NOVEMBER);
      expect(sleeps).to.deep.equal([1000, 2000, 4000, 5000, 5000, 5000]);
    });

    for (const State of ['FAILED', 'CANCELLED'] as const) {
      it(`fails with Athena's reason when the query ends ${State}, reading no results`, async () => {
        athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
        athena
          .on(GetQueryExecutionCommand)
          .resolvesOnce(running('RUNNING'))
          .resolvesOnce({
            QueryExecution: {
              Status: {
                State,
                StateChangeReason: 'TABLE_NOT_FOUND: Table saasctl_prod.raw_usage does not exist',
              },
            },
          });
        const err = await rejectionOf(athenaAggregate(deps(), NOVEMBER));
        expect(err.code).to.equal('ATHENA_QUERY_FAILED');
        expect(err.exitCode).to.equal(1);
        expect(err.message).to.equal(
          `The reconcile query q-1 ended ${State} in Athena workgroup saasctl-prod: ` +
            'TABLE_NOT_FOUND: Table saasctl_prod.raw_usage does not exist',
        );
        expect(err.details).to.deep.include({ queryExecutionId: 'q-1', state: State });
        expect(athena.commandCalls(GetQueryResultsCommand)).to.have.length(0);
        expect(athena.commandCalls(StopQueryExecutionCommand)).to.have.length(0);
      });
    }

    it('stops the query and fails when it runs past the timeout', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves(running('RUNNING'));
      athena.on(StopQueryExecutionCommand).resolves({});
      const err = await rejectionOf(athenaAggregate(deps({ timeoutMs: 60_000 }), NOVEMBER));
      expect(err.code).to.equal('ATHENA_QUERY_TIMEOUT');
      expect(err.exitCode).to.equal(1);
      expect(err.message).to.equal(
        'The reconcile query q-1 did not finish within 1 minute (last state RUNNING); it was stopped.',
      );
      expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).to.deep.equal([
        { QueryExecutionId: 'q-1' },
      ]);
      // 500 + 1000 + 2000 + 4000 + 5000 * 10 = 57.5 s, then one more wait passes the minute.
      expect(sleeps.reduce((a, b) => a + b, 0)).to.equal(62_500);
      expect(athena.commandCalls(GetQueryResultsCommand)).to.have.length(0);
    });

    it('says so when stopping an overdue query fails too', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves(running('QUEUED'));
      athena.on(StopQueryExecutionCommand).rejects(awsError('InvalidRequestException', 'access denied'));
      const err = await rejectionOf(athenaAggregate(deps({ timeoutMs: 1000 }), NOVEMBER));
      expect(err.code).to.equal('ATHENA_QUERY_TIMEOUT');
      expect(err.message).to.include(
        'stopping it failed too (access denied): stop it in the Athena console.',
      );
      expect(athena.commandCalls(StopQueryExecutionCommand)).to.have.length(1);
    });

    it('refuses a result whose columns are not the query’s', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves(SUCCEEDED);
      athena.on(GetQueryResultsCommand).resolves(page([row('tenantid', 'metric'), row('acme', 'api.call')]));
      const err = await rejectionOf(athenaAggregate(deps(), NOVEMBER));
      expect(err.code).to.equal('ATHENA_RESULT_UNEXPECTED');
      expect(err.message).to.include('its columns are tenantid, metric');
    });

    it('refuses a cell whose quantity is not a number', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves(SUCCEEDED);
      athena
        .on(GetQueryResultsCommand)
        .resolves(page([HEADER, row('cell', 'acme', 'api.call', '2026-11-27T10', undefined, 'NaN', '1')]));
      const err = await rejectionOf(athenaAggregate(deps(), NOVEMBER));
      expect(err.code).to.equal('ATHENA_RESULT_UNEXPECTED');
      expect(err.message).to.include(`a row's quantity is "NaN", not a number`);
    });

    it('sends nothing to Athena when the request is invalid', async () => {
      const err = await rejectionOf(athenaAggregate(deps({ table: 'Raw-Usage' }), NOVEMBER));
      expect(err.code).to.equal('INVALID_ATHENA_IDENTIFIER');
      expect(athena.calls()).to.have.length(0);
    });

    describe('athenaEngineFor', () => {
      const local = localPlatformConfig('local', 'us-east-1', { id: 'pool', clientId: 'client' });

      it('refuses a platform without an athena configuration, naming the SSM parameter field', () => {
        const err = thrownBy(() => athenaEngineFor({ config: local, clients: { athena: () => client } }));
        expect(err.code).to.equal('ATHENA_NOT_CONFIGURED');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.include('athena field (workgroup, database, table)');
        expect(err.message).to.include('SSM parameter /saasctl/local/platform');
        expect(err.message).to.include('the local target has no Athena');
      });

      it('runs the query in the configured workgroup, database and table', async () => {
        const config: PlatformConfig = {
          ...local,
          athena: { workgroup: 'saasctl-local', database: 'lake_db', table: 'events' },
        };
        athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-9' });
        athena.on(GetQueryExecutionCommand).resolves(SUCCEEDED);
        athena.on(GetQueryResultsCommand).resolves(page([HEADER]));
        const engine = athenaEngineFor(
          { config, clients: { athena: () => client } },
          { sleep: async () => undefined },
        );
        expect((await engine(NOVEMBER)).cells).to.deep.equal([]);
        const input = athena.commandCalls(StartQueryExecutionCommand)[0].args[0].input;
        expect(input.WorkGroup).to.equal('saasctl-local');
        expect(input.QueryExecutionContext).to.deep.equal({ Database: 'lake_db' });
        expect(input.QueryString).to.include('FROM "lake_db"."events"');
        expect(athena.commandCalls(GetQueryResultsCommand)[0].args[0].input.QueryExecutionId).to.equal('q-9');
      });
    });
  });
});
