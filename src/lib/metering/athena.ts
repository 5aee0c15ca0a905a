import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

import type { AthenaClient, QueryExecution, Row } from '@aws-sdk/client-athena';

import { ExitCode, SaasctlError, usageError } from '../cli/errors.js';
import type { AwsClientFactory } from '../platform/clients.js';
import { platformParameterName, type PlatformConfig } from '../platform/config.js';
import { sdk } from '../platform/sdk.js';
import { assertTenantId, RESERVED_TENANT_IDS } from '../tenants/model.js';
import { EVENT_ID_PATTERN, isoOf, MAX_FUTURE_SKEW_MS, MAX_SUM_QUANTITY } from './events.js';
import type { LakeAggregation, LakeAggregationRequest, LakeCell, LakeEngine } from './lake-aggregate.js';
import { FIREHOSE_MAX_BUFFER_MS, partitionsForPeriod, RAW_PREFIX } from './lake-layout.js';
import { MetricRegistry } from './metrics.js';

/**
 * The `athena` engine of `metering reconcile`: the stream engine's aggregation as one SQL query
 * over the Glue table the infra app defines on `raw/` (OpenX JSON SerDe with
 * `ignore.malformed.json`, partition projection on `dt` = the arrival hour `yyyy/MM/dd/HH`).
 *
 * Where the SerDe makes SQL see the lake differently from the stream engine's JSON.parse:
 * - with `ignore.malformed.json` a line that is not JSON is not dropped: it comes back as a row
 *   of NULLs, which fails the validity predicates and is counted as malformed; so is a blank
 *   line (the SerDe makes a NULL row of it too), which the stream engine skips;
 * - the SerDe converts values to the column types and matches keys without case, so
 *   `"quantity": "5"` or `"EventId"` pass here while the stream engine calls them malformed,
 *   and a value it cannot convert (`"quantity": "abc"`) can fail the whole query (HIVE_BAD_DATA);
 * - only objects directly under an hour's prefix and holding at least one line are seen, so
 *   foreign keys in sub-prefixes or empty ones are not reported.
 */

/** Glue database and table names as the infra app makes them: no quoting games. */
const IDENTIFIER_PATTERN = /^[a-z0-9_]{1,255}$/;
export const DEFAULT_POLL_INTERVAL_MS = 500;
export const MAX_POLL_INTERVAL_MS = 5_000;
/** Athena's own default limit for a DML query. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
export const RESULTS_PAGE_SIZE = 1000;

/**
 * The query's result set, in order. One result set carries everything: a `cell` row per
 * tenant, metric and hour (`lines` = its distinct events), one row each for the `duplicate`,
 * `malformed` and `outside` tallies (`lines` = how many; absent when 0), and a `foreign` row per
 * object whose key is not in Firehose's layout.
 */
export const RESULT_COLUMNS = ['kind', 'tenant_id', 'metric', 'hour', 'object_key', 'quantity', 'lines'];

// Firehose's object name after the hour prefix (see lake-layout.ts); group 1 is the arrival stamp.
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const RAW_KEY_REGEX =
  `^raw/[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{2}/[A-Za-z0-9_.-]{1,64}-[1-9][0-9]{0,8}-` +
  `([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})-${UUID}\\.gz$`;
const TIMESTAMP_REGEX = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{3})?Z$';
/**
 * The stream engine validates an event against the time its object arrived: the second in the
 * key, plus one because the key drops the milliseconds. An event stamped further ahead than
 * the allowed clock skew is malformed there, so it is here.
 */
// As the stream engine: the key's arrival (to the second) plus Firehose's longest buffer, plus the skew.
const ARRIVAL_ALLOWANCE_MS = MAX_FUTURE_SKEW_MS + FIREHOSE_MAX_BUFFER_MS + 1000;

export interface ReconcileQueryRequest extends LakeAggregationRequest {
  readonly database: string;
  readonly table: string;
}

/**
 * The reconcile aggregation as Athena SQL (Trino). Rows are classified in the stream engine's
 * order: a line of a foreign object is not read; an invalid event is malformed; a valid one
 * outside [from, to) is outside the period; another tenant's is skipped (the first two are
 * counted whatever the tenant filter, as the stream engine does); the rest are deduplicated by
 * eventId (a duplicate is a redelivered copy, identical in content) and aggregated.
 *
 * Java regexes let `$` match before a final newline, so each anchored pattern that could be
 * fooled by a trailing "\n" in a JSON string is paired with a length or a character check.
 */
export function buildReconcileQuery(request: ReconcileQueryRequest): string {
  const database = identifier(request.database, 'database');
  const table = identifier(request.table, 'table');
  if (!(request.from.getTime() < request.to.getTime())) {
    throw usageError(
      'INVALID_PERIOD',
      `Invalid period: from (${String(request.from)}) must be a valid date before to (${String(request.to)}).`,
    );
  }
  const tenantId = request.tenantId === undefined ? undefined : assertTenantId(request.tenantId);
  const partitions = partitionsForPeriod(request.from, request.to, request.lateArrivalHours);
  const dt = (prefix: string): string => sqlString(prefix.slice(RAW_PREFIX.length, -1));
  const metrics = new MetricRegistry(request.metrics ?? []).list();
  const names = (aggregation?: string): string =>
    metrics
      .filter((m) => aggregation === undefined || m.aggregation === aggregation)
      .map((m) => sqlString(m.name))
      .join(', ');
  const reserved = [...RESERVED_TENANT_IDS].map(sqlString).join(', ');
  const valid = [
    `eventid IS NOT NULL AND regexp_like(eventid, ${sqlString(EVENT_ID_PATTERN.source)})`,
    `NOT regexp_like(eventid, '[^A-Za-z0-9._:-]')`,
    `tenantid IS NOT NULL AND length(tenantid) BETWEEN 3 AND 32`,
    `regexp_like(tenantid, '^[a-z0-9][a-z0-9-]*[a-z0-9]$') AND NOT regexp_like(tenantid, '[^a-z0-9-]')`,
    `strpos(tenantid, '--') = 0 AND tenantid NOT IN (${reserved})`,
    `metric IN (${names()})`,
    `quantity IS NOT NULL AND is_finite(quantity) AND quantity >= 0`,
    `(metric NOT IN (${names('sum')}) OR quantity <= ${doubleLiteral(MAX_SUM_QUANTITY)})`,
    `length(ts) IN (20, 24) AND regexp_like(ts, ${sqlString(TIMESTAMP_REGEX)}) AND event_time IS NOT NULL`,
    `event_time <= arrival + INTERVAL '${ARRIVAL_ALLOWANCE_MS / 1000}' SECOND`,
  ];
  const aggregate = metrics
    .map((m) => `WHEN ${sqlString(m.name)} THEN ${m.aggregation === 'max' ? 'max' : 'sum'}(quantity)`)
    .join(' ');
  return [
    'WITH source AS (',
    "  SELECT eventid, tenantid, metric, quantity, ts, regexp_replace(\"$path\", '^[a-z0-9]+://[^/]+/', '') AS object_key,",
    '    try(from_iso8601_timestamp(ts)) AS event_time',
    `  FROM "${database}"."${table}"`,
    `  WHERE dt BETWEEN ${dt(partitions[0])} AND ${dt(partitions[partitions.length - 1])}`,
    '), keyed AS (',
    `  SELECT *, with_timezone(try(date_parse(regexp_extract(object_key, ${sqlString(RAW_KEY_REGEX)}, 1), '%Y-%m-%d-%H-%i-%s')), 'UTC') AS arrival`,
    '  FROM source',
    '), classified AS (',
    '  SELECT *, CASE',
    "    WHEN arrival IS NULL OR regexp_like(object_key, '[^A-Za-z0-9_./-]') THEN 'foreign'",
    `    WHEN NOT coalesce(${valid.join('\n      AND ')}, false) THEN 'malformed'`,
    `    WHEN event_time < from_iso8601_timestamp(${sqlString(isoOf(request.from))}) OR event_time >= from_iso8601_timestamp(${sqlString(isoOf(request.to))}) THEN 'outside'`,
    ...(tenantId ? [`    WHEN tenantid <> ${sqlString(tenantId)} THEN 'other-tenant'`] : []),
    "    ELSE 'counted' END AS verdict",
    '  FROM keyed',
    '), ranked AS (',
    '  SELECT *, row_number() OVER (PARTITION BY verdict, eventid ORDER BY object_key, ts, tenantid, metric, quantity) AS copy_number',
    '  FROM classified',
    ...(tenantId ? ["  WHERE verdict <> 'other-tenant'"] : []),
    '), tallied AS (',
    "  SELECT CASE WHEN verdict <> 'counted' THEN verdict WHEN copy_number = 1 THEN 'cell' ELSE 'duplicate' END AS kind,",
    "    CASE WHEN verdict = 'counted' AND copy_number = 1 THEN tenantid END AS tenant_id,",
    "    CASE WHEN verdict = 'counted' AND copy_number = 1 THEN metric END AS metric,",
    "    CASE WHEN verdict = 'counted' AND copy_number = 1 THEN date_format(event_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H') END AS hour,",
    "    CASE WHEN verdict = 'foreign' THEN object_key END AS object_key,",
    '    quantity',
    '  FROM ranked',
    ')',
    `SELECT kind, tenant_id, metric, hour, object_key, CASE metric ${aggregate} END AS quantity, count(*) AS lines`,
    'FROM tallied',
    'GROUP BY kind, tenant_id, metric, hour, object_key',
    'ORDER BY kind, tenant_id, metric, hour, object_key',
  ].join('\n');
}

export interface AthenaAggregateDependencies {
  readonly athena: AthenaClient;
  readonly workgroup: string;
  readonly database: string;
  readonly table: string;
  /** Waits between polls; tests pass one that resolves at once. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The clock the timeout is measured on; tests advance it in their sleep. */
  readonly now?: () => number;
  /** The first wait between polls; it doubles up to MAX_POLL_INTERVAL_MS. */
  readonly pollIntervalMs?: number;
  /** How long the query may run before it is stopped. */
  readonly timeoutMs?: number;
}

/** Runs the reconcile query on Athena and reads its result into a LakeAggregation. */
export async function athenaAggregate(
  deps: AthenaAggregateDependencies,
  request: LakeAggregationRequest,
): Promise<LakeAggregation> {
  const QueryString = buildReconcileQuery({ ...request, database: deps.database, table: deps.table });
  const { StartQueryExecutionCommand } = sdk.athena();
  const started = await deps.athena.send(
    new StartQueryExecutionCommand({
      QueryString,
      WorkGroup: deps.workgroup,
      QueryExecutionContext: { Database: deps.database },
      // Makes the SDK's retries of this call idempotent, and only them: each run is a new query.
      ClientRequestToken: randomUUID(),
    }),
  );
  const id = started.QueryExecutionId;
  if (!id) throw unexpected('StartQueryExecution returned no QueryExecutionId');
  const execution = await finished(deps, id);
  return {
    ...(await readResults(deps.athena, id)),
    objects: 0,
    bytes: execution.Statistics?.DataScannedInBytes ?? 0,
  };
}

/** Polls until the query succeeds; a failed, cancelled or overdue query is an error. */
async function finished(deps: AthenaAggregateDependencies, id: string): Promise<QueryExecution> {
  const { GetQueryExecutionCommand, StopQueryExecutionCommand } = sdk.athena();
  const sleep = deps.sleep ?? ((ms: number) => delay(ms).then(() => undefined));
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = now() + timeoutMs;
  let interval = deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  for (;;) {
    await sleep(interval);
    interval = Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
    const { QueryExecution } = await deps.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const status = QueryExecution?.Status;
    const state = status?.State;
    if (state === 'SUCCEEDED') return QueryExecution as QueryExecution;
    if (state === 'FAILED' || state === 'CANCELLED') {
      const reason =
        status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? 'Athena gave no reason';
      throw new SaasctlError(
        'ATHENA_QUERY_FAILED',
        `The reconcile query ${id} ended ${state} in Athena workgroup ${deps.workgroup}: ${reason}`,
        {
          exitCode: ExitCode.failure,
          details: { queryExecutionId: id, state, reason },
          actions: [
            `Look the query up in the Athena console (workgroup ${deps.workgroup}) for its full error.`,
            `If ${deps.database}.${deps.table} is missing or differs, redeploy the infra app for this stage (npm run deploy in infra/).`,
          ],
        },
      );
    }
    if (now() < deadline) continue;
    // Nobody waits for the result any more, and Athena bills the scan: stop it.
    let stopError: unknown;
    try {
      await deps.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    } catch (err) {
      stopError = err;
    }
    throw new SaasctlError(
      'ATHENA_QUERY_TIMEOUT',
      `The reconcile query ${id} did not finish within ${duration(timeoutMs)} (last state ${state ?? 'unknown'}); ` +
        (stopError === undefined
          ? 'it was stopped.'
          : `stopping it failed too (${(stopError as Error).message}): stop it in the Athena console.`),
      {
        exitCode: ExitCode.failure,
        cause: stopError,
        details: { queryExecutionId: id, state },
        actions: ['Reconcile a shorter period (--from and --to), or one tenant (--tenant).'],
      },
    );
  }
}

type ResultTotals = Omit<LakeAggregation, 'objects' | 'bytes'>;

/** Pages through the result set; the first row of the first page is the header. */
async function readResults(athena: AthenaClient, id: string): Promise<ResultTotals> {
  const { GetQueryResultsCommand } = sdk.athena();
  const cells: LakeCell[] = [];
  const foreignKeys: string[] = [];
  const tallies = { duplicate: 0, malformed: 0, outside: 0 };
  let events = 0;
  let NextToken: string | undefined;
  let first = true;
  do {
    const page = await athena.send(
      new GetQueryResultsCommand({
        QueryExecutionId: id,
        MaxResults: RESULTS_PAGE_SIZE,
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    let rows = page.ResultSet?.Rows ?? [];
    if (first) {
      const names = rows.length > 0 ? values(rows[0]) : [];
      if (names.join(',') !== RESULT_COLUMNS.join(',')) {
        throw unexpected(
          `its columns are ${names.join(', ') || 'missing'}, not ${RESULT_COLUMNS.join(', ')}`,
        );
      }
      rows = rows.slice(1);
      first = false;
    }
    for (const row of rows) {
      const [kind, tenantId, metric, hour, objectKey, quantity, lines] = values(row);
      switch (kind) {
        case 'cell': {
          const count = whole(lines, kind);
          cells.push({
            tenantId: present(tenantId, 'tenant_id'),
            metric: present(metric, 'metric'),
            hour: present(hour, 'hour'),
            quantity: finite(quantity, 'quantity'),
            events: count,
          });
          events += count;
          break;
        }
        case 'duplicate':
        case 'malformed':
        case 'outside':
          tallies[kind] += whole(lines, kind);
          break;
        case 'foreign':
          foreignKeys.push(present(objectKey, 'object_key'));
          break;
        default:
          throw unexpected(`a row has kind ${JSON.stringify(kind)}`);
      }
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return {
    cells,
    events,
    duplicates: tallies.duplicate,
    malformed: tallies.malformed,
    outsidePeriod: tallies.outside,
    foreignKeys,
  };
}

/**
 * The athena engine for a platform, or a usage error when its configuration has no Athena
 * block (the local target never has one; on aws the infra app writes it).
 */
export function athenaEngineFor(
  platform: { readonly config: PlatformConfig; readonly clients: Pick<AwsClientFactory, 'athena'> },
  options: Pick<AthenaAggregateDependencies, 'sleep' | 'now' | 'pollIntervalMs' | 'timeoutMs'> = {},
): LakeEngine {
  const { config, clients } = platform;
  const athena = config.athena;
  if (!athena) {
    throw usageError(
      'ATHENA_NOT_CONFIGURED',
      `The athena engine needs the athena field (workgroup, database, table) of the platform configuration ` +
        `in SSM parameter ${platformParameterName(config.stage)}, and stage "${config.stage}" has none ` +
        '(the local target has no Athena).',
      [
        'Use the stream engine, or deploy the infra app for this stage (npm run deploy in infra/), which writes the field.',
      ],
    );
  }
  const { workgroup, database, table } = athena;
  return (request) =>
    athenaAggregate({ ...options, athena: clients.athena(), workgroup, database, table }, request);
}

function identifier(name: string, what: string): string {
  if (!IDENTIFIER_PATTERN.test(name)) {
    throw usageError(
      'INVALID_ATHENA_IDENTIFIER',
      `Invalid Athena ${what} name ${JSON.stringify(name)}: 1-255 lowercase letters, digits and underscores.`,
      ['Fix the athena field of the platform configuration (redeploy the infra app for this stage).'],
    );
  }
  return name;
}

/** A SQL string literal: every value is validated before it gets here; quotes are doubled anyway. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A DOUBLE literal in Trino's syntax (1E12): a bare 1000000000000 would be a BIGINT. */
function doubleLiteral(value: number): string {
  return value.toExponential().replace('e+', 'E');
}

function duration(ms: number): string {
  const [amount, unit] = ms >= 60_000 ? [ms / 60_000, 'minute'] : [ms / 1000, 'second'];
  const rounded = Math.round(amount * 10) / 10;
  return `${rounded} ${unit}${rounded === 1 ? '' : 's'}`;
}

function values(row: Row): (string | undefined)[] {
  return (row.Data ?? []).map((datum) => datum.VarCharValue);
}

function present(value: string | undefined, column: string): string {
  if (value === undefined || value === '') throw unexpected(`a cell row has no ${column}`);
  return value;
}

function finite(value: string | undefined, column: string): number {
  const number = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(number)) {
    throw unexpected(`a row's ${column} is ${JSON.stringify(value)}, not a number`);
  }
  return number;
}

function whole(value: string | undefined, kind: string): number {
  const number = finite(value, 'lines');
  if (!Number.isSafeInteger(number) || number < 1) {
    throw unexpected(`the ${kind} row counts ${JSON.stringify(value)} lines`);
  }
  return number;
}

function unexpected(why: string): SaasctlError {
  return new SaasctlError('ATHENA_RESULT_UNEXPECTED', `The reconcile query's result is unusable: ${why}.`, {
    exitCode: ExitCode.failure,
    actions: ['Check that the Glue table matches what the infra app defines (redeploy it for this stage).'],
  });
}
