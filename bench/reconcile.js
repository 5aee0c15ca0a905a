#!/usr/bin/env node
// Reconcile benchmark: generates a deterministic lake of gzipped NDJSON usage events (cached
// between runs) and times, in the same run and on the same files, saasctl's stream engine
// (aggregateLake over the files) and DuckDB doing the same work: dedup by eventId, then hourly
// aggregates per tenant and metric. Each engine runs in its own child process, so the peak RSS
// reported is that engine's alone. See bench/README.md. Needs a current build (`npm run build`).
import { spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

/** Firehose's longest buffering interval: no object holds records that arrived further apart. */
const FIREHOSE_BUFFER_MS = 900_000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = fileURLToPath(import.meta.url);
const gzip = promisify(gzipCallback);

/** Bumped whenever the generated lake changes for the same flags, so old caches are not reused. */
const GENERATOR_VERSION = 2;
/** The period ends here, so the same flags give the same lake and the same figures. */
const PERIOD_END = '2026-11-01T00:00:00.000Z';
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const STREAM = 'saasctl-bench';
const LATE_ARRIVAL_HOURS = 24;
const DUPLICATE_RATE = 0.01;
const LATE_RATE = 0.01;
const ZIPF_EXPONENT = 1;
const RSS_TARGET_MB = 300;
const CHILD_TIMEOUT_MS = 30 * 60_000;
const ENGINES = ['saasctl', 'duckdb'];
/** Metric mix: name, share of events, aggregation (the defaults in src/lib/metering/metrics.ts). */
const METRICS = [
  { name: 'api.call', share: 0.8, aggregation: 'sum' },
  { name: 'doc.processed', share: 0.15, aggregation: 'sum' },
  { name: 'storage.gb', share: 0.05, aggregation: 'max' },
];

const USAGE = `Usage: node bench/reconcile.js [options]   (npm run bench:reconcile -- [options])

  --events N        distinct events in the lake (default 2000000)
  --days N          length of the period, in days (a multiple of 1/24), ending ${PERIOD_END} (default 0.5)
  --tenants N       tenants, Zipf-skewed (default 1400)
  --per-object N    events per lake object (default 50000)
  --seed N          generator seed (default 1)
  --runs N          timed runs of each engine, alternating (default 3)
  --threads N       DuckDB threads (default 2)
  --dir PATH        where the lake is (default: <tmpdir>/saasctl-bench-reconcile-<params hash>)
  --regenerate      generate the lake again even if a matching one is cached
  --check           exit 1 when a target is missed (default: report only)
  --no-save         do not write bench/results/reconcile-<date>.json
  --dist PATH       the build to run (default: dist/ of this checkout)
  --snapshot        run a copy of the build, so a rebuild during the run can't break it
  -h, --help        this text`;

// ---------------------------------------------------------------------------------------------
// Entry point: the parent (generation, runs, report) or one engine's child

const options = parseOptions();
// Where the build is: a checkout's dist/, another build (--dist), or a copy of one (--snapshot).
let distDir = options.dist;
const engineModule = () => path.join(distDir, 'lib', 'metering', 'lake-engine.js');
const layoutModule = () => path.join(distDir, 'lib', 'metering', 'lake-layout.js');
if (options.child) {
  await childMain(options);
} else {
  const children = new Set();
  let snapshot;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      progress(`${signal}: stopping`);
      for (const child of children) child.kill('SIGKILL');
      if (snapshot) rmSync(snapshot, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  try {
    if (options.snapshot) {
      snapshot = await snapshotBuild(distDir);
      distDir = path.join(snapshot, 'dist');
    }
    await main(children);
  } catch (err) {
    progress(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    if (snapshot) await rm(snapshot, { recursive: true, force: true });
  }
}

/**
 * Copies the build to a scratch directory, with package.json (ESM) and node_modules symlinked
 * to the checkout's, so `npm run build` (which starts with rm -rf dist) can run meanwhile.
 */
async function snapshotBuild(dist) {
  if (!existsSync(dist)) throw new Error(`No build at ${rel(dist)}: run \`npm run build\`.`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'saasctl-bench-reconcile-build-'));
  await cp(dist, path.join(dir, 'dist'), { recursive: true });
  await cp(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  progress(`snapshot of ${rel(dist)} in ${dir}`);
  return dir;
}

async function main(children) {
  if (!existsSync(layoutModule()))
    throw new Error(`No build (${rel(layoutModule())} missing): run \`npm run build\`.`);
  if (!existsSync(engineModule())) {
    progress(`warning: ${rel(engineModule())} is missing (not built yet?): the saasctl runs will fail.`);
  }
  const startedAt = new Date();
  const params = lakeParams(options);
  const dir = options.dir ?? path.join(os.tmpdir(), `saasctl-bench-reconcile-${paramsHash(params)}`);
  const manifest = await ensureLake(dir, params, options.regenerate);
  const { from, to } = manifest.period;

  const loadBefore = os.loadavg();
  progress(
    `${options.runs} run(s) of each engine, alternating, over ${thousands(manifest.objects)} objects ` +
      `(${thousands(manifest.lines)} lines, ${thousands(manifest.events)} distinct events), ${from} to ${to}`,
  );
  const samples = { saasctl: [], duckdb: [] };
  const failures = {};
  for (let round = 0; round < options.runs; round++) {
    const order = round % 2 === 0 ? ENGINES : [...ENGINES].reverse();
    for (const engine of order) {
      if (failures[engine]) continue;
      progress(`round ${round + 1}/${options.runs}: ${engine}…`);
      try {
        const result = await runChild(children, engine, dir, from, to);
        progress(
          `  ${engine}: ${thousands(Math.round(result.ms))} ms, ${thousands(Math.round(rate(result)))} events/s, ` +
            `peak RSS ${result.maxRssMb} MB`,
        );
        samples[engine].push(result);
      } catch (err) {
        failures[engine] = err.message;
        progress(`  ${engine} FAILED: ${err.message}`);
      }
    }
  }
  const loadAfter = os.loadavg();
  const busy = loadBefore[0] > os.cpus().length * 0.5 || loadAfter[0] > 1 + os.cpus().length * 0.5;

  const engines = {};
  for (const engine of ENGINES) {
    if (samples[engine].length === 0) {
      engines[engine] = { error: failures[engine] ?? 'no run' };
      continue;
    }
    const runs = samples[engine];
    const ms = summarize(runs.map((r) => r.ms));
    const last = runs.at(-1);
    engines[engine] = {
      ...ms,
      eventsPerSec: Math.round(last.events / (median(runs.map((r) => r.ms)) / 1000)),
      maxRssMb: Math.max(...runs.map((r) => r.maxRssMb)),
      events: last.events,
      duplicates: last.duplicates,
      cells: last.cells,
      totals: last.totals,
      checksum: last.checksum,
      extra: last.extra,
      samples: runs.map((r) => ({ ms: round1(r.ms), maxRssMb: r.maxRssMb, checksum: r.checksum })),
      error: failures[engine],
    };
  }

  const checks = judge(manifest, samples, engines, failures);
  const report = {
    date: startedAt.toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
    },
    settings: {
      runs: options.runs,
      duckdbThreads: options.threads,
      lateArrivalHours: LATE_ARRIVAL_HOURS,
      statistic: 'median ms; events/s = distinct events / median s; peak RSS = max over runs',
    },
    lake: { dir, ...manifest },
    loadAverage: { before: loadBefore.map(round2), after: loadAfter.map(round2), busy },
    engines,
    checks,
  };
  printReport(report);

  if (options.save) {
    const resultsDir = path.join(ROOT, 'bench', 'results');
    await mkdir(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `reconcile-${startedAt.toISOString().slice(0, 10)}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nResults written to ${path.relative(process.cwd(), file)}`);
  }

  const broken = checks.filter((c) => c.kind === 'correctness' && !c.pass);
  const missed = checks.filter((c) => c.kind === 'target' && c.pass === false);
  if (broken.length > 0) {
    console.log(`\n${broken.length} correctness check(s) failed:`);
    for (const c of broken) console.log(`  ${c.name}: ${c.detail}`);
    process.exitCode = 1;
  } else if (options.check && missed.length > 0) {
    console.log(`\n--check: ${missed.length} target(s) missed.`);
    process.exitCode = 1;
  }
}

/** Correctness (both engines ran and agree with each other and with the generator) and targets. */
function judge(manifest, samples, engines, failures) {
  const checks = [];
  const correctness = (name, pass, detail) => checks.push({ kind: 'correctness', name, pass, detail });
  for (const engine of ENGINES) {
    if (failures[engine] || samples[engine].length === 0) {
      correctness(`${engine} ran`, false, failures[engine] ?? 'no run');
      continue;
    }
    const bad = samples[engine].filter((r) => r.checksum !== manifest.expected.checksum);
    correctness(
      `${engine} cells match the generated lake`,
      bad.length === 0,
      bad.length === 0
        ? `${thousands(manifest.expected.cells)} cells, checksum ${manifest.expected.checksum.slice(0, 12)}`
        : `${bad.length} run(s) gave checksum ${bad[0].checksum.slice(0, 12)} (${thousands(bad[0].cells)} cells, ` +
            `totals ${JSON.stringify(bad[0].totals)}); expected ${manifest.expected.checksum.slice(0, 12)} ` +
            `(${thousands(manifest.expected.cells)} cells, totals ${JSON.stringify(manifest.expected.totals)})`,
    );
    const r = samples[engine].at(-1);
    // The generated lake has no malformed event and none outside the period.
    const skipped = Object.entries({
      malformed: r.extra.malformed,
      'outside the period': r.extra.outsidePeriod,
    })
      .filter(([, value]) => value)
      .map(([what, value]) => `, ${thousands(value)} ${what}`)
      .join('');
    correctness(
      `${engine} dedup is exact`,
      r.events === manifest.events && r.duplicates === manifest.duplicates && skipped === '',
      `${thousands(r.events)} distinct events counted (${thousands(manifest.events)} generated), ` +
        `${thousands(r.duplicates)} copies dropped (${thousands(manifest.duplicates)} generated)${skipped}`,
    );
  }
  const s = engines.saasctl;
  const d = engines.duckdb;
  if (s.checksum && d.checksum) {
    const same = s.checksum === d.checksum && JSON.stringify(s.totals) === JSON.stringify(d.totals);
    correctness(
      'saasctl and duckdb give identical totals',
      same,
      same
        ? `checksum ${s.checksum.slice(0, 12)}, totals ${formatTotals(s.totals)}`
        : `saasctl ${s.checksum.slice(0, 12)} ${JSON.stringify(s.totals)} vs duckdb ${d.checksum.slice(0, 12)} ${JSON.stringify(d.totals)}`,
    );
  }
  const speedPass =
    s.eventsPerSec !== undefined && d.eventsPerSec !== undefined ? s.eventsPerSec >= d.eventsPerSec : null;
  checks.push({
    kind: 'target',
    name: 'saasctl events/s ≥ duckdb events/s',
    pass: speedPass,
    detail:
      speedPass === null
        ? 'an engine did not run'
        : `${thousands(s.eventsPerSec)} vs ${thousands(d.eventsPerSec)} (${round2(s.eventsPerSec / d.eventsPerSec)}x)`,
  });
  const rssPass = s.maxRssMb !== undefined ? s.maxRssMb < RSS_TARGET_MB : null;
  checks.push({
    kind: 'target',
    name: `saasctl peak RSS < ${RSS_TARGET_MB} MB`,
    pass: rssPass,
    detail: rssPass === null ? 'saasctl did not run' : `${s.maxRssMb} MB`,
  });
  return checks;
}

// ---------------------------------------------------------------------------------------------
// Children: one engine, one run, one JSON line on stdout

async function runChild(children, engine, dir, from, to) {
  const args = [
    SCRIPT,
    '--child',
    engine,
    '--dir',
    dir,
    '--from',
    from,
    '--to',
    to,
    '--threads',
    String(options.threads),
    '--dist',
    distDir,
  ];
  const result = await new Promise((resolve, reject) => {
    const out = [];
    const err = [];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    children.add(child);
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    child.once('error', (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
  if (result.code !== 0) {
    const why = result.stderr.trim() || result.stdout.trim() || '(no output)';
    throw new Error(`exit ${result.code ?? result.signal}: ${why.split('\n').slice(0, 6).join('\n    ')}`);
  }
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`printed no JSON result: ${result.stdout.slice(0, 500)}`);
  }
}

async function childMain({ child: engine, dir, from, to, threads }) {
  try {
    const result =
      engine === 'saasctl' ? await runSaasctl(dir, from, to) : await runDuckdb(dir, from, to, threads);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    const code = err?.code ? ` [${err.code}]` : '';
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}${code}\n`);
    process.exitCode = 1;
  }
}

async function runSaasctl(dir, from, to) {
  if (!existsSync(engineModule())) {
    throw new Error(
      `${rel(engineModule())} not found: the stream engine is not built (run \`npm run build\`).`,
    );
  }
  const { aggregateLake, fileLakeSource } = await import(pathToFileURL(engineModule()).href);
  const began = performance.now();
  const aggregation = await aggregateLake(fileLakeSource(dir), {
    from: new Date(from),
    to: new Date(to),
    lateArrivalHours: LATE_ARRIVAL_HOURS,
  });
  const ms = performance.now() - began;
  // Taken before the checksum, which is the benchmark's work, not the engine's.
  const maxRssMb = rssMb();
  const cells = aggregation.cells.map((c) => [c.tenantId, c.metric, c.hour, c.quantity, c.events]);
  return {
    engine: 'saasctl',
    ms,
    events: aggregation.events,
    duplicates: aggregation.duplicates,
    maxRssMb,
    ...digest(cells),
    extra: {
      objects: aggregation.objects,
      bytes: aggregation.bytes,
      malformed: aggregation.malformed,
      outsidePeriod: aggregation.outsidePeriod,
      foreignKeys: aggregation.foreignKeys.length,
    },
  };
}

async function runDuckdb(dir, from, to, threads) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const setupBegan = performance.now();
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const connection = await instance.connect();
  const setupMs = performance.now() - setupBegan;
  const quote = (s) => `'${s.replaceAll("'", "''")}'`;
  const glob = path.join(dir, 'raw', '**', '*.gz');
  // Every ts in the lake has Date#toISOString's form, so comparing strings compares instants.
  // Each eventId's copies are identical lines, so any_value keeps the same event as the first.
  const sql = `
    SELECT tenantId, metric, substr(ts, 1, 13) AS hour,
           CASE WHEN metric = 'storage.gb' THEN max(quantity) ELSE sum(quantity) END AS quantity,
           count(*)::BIGINT AS events,
           (sum(copies) - count(*))::BIGINT AS duplicates
    FROM (
      SELECT eventId, any_value(tenantId) AS tenantId, any_value(metric) AS metric,
             any_value(quantity) AS quantity, any_value(ts) AS ts, count(*) AS copies
      FROM read_ndjson(${quote(glob)}, compression = 'gzip',
        columns = {eventId: 'VARCHAR', tenantId: 'VARCHAR', metric: 'VARCHAR', quantity: 'DOUBLE', ts: 'VARCHAR'})
      WHERE ts >= ${quote(from)} AND ts < ${quote(to)}
      GROUP BY eventId
    )
    GROUP BY tenantId, metric, hour`;
  const began = performance.now();
  const reader = await connection.runAndReadAll(sql);
  const [tenants, metrics, hours, quantities, counts, copies] = reader.getColumnsJS();
  const ms = performance.now() - began;
  const maxRssMb = rssMb();
  const cells = tenants.map((t, i) => [t, metrics[i], hours[i], quantities[i], Number(counts[i])]);
  let events = 0;
  let duplicates = 0;
  for (let i = 0; i < cells.length; i++) {
    events += cells[i][4];
    duplicates += Number(copies[i]);
  }
  connection.closeSync();
  instance.closeSync();
  return {
    engine: 'duckdb',
    ms,
    events,
    duplicates,
    maxRssMb,
    ...digest(cells),
    extra: { setupMs: round1(setupMs) },
  };
}

function rssMb() {
  return round1(process.resourceUsage().maxRSS / 1024);
}

/**
 * Cells count, totals per metric and a checksum over the sorted cells ("tenant|metric|hour|quantity"):
 * the same function for both engines and the generator, so equal checksums mean equal cells.
 */
function digest(cells) {
  const keyed = cells.map((c) => [`${c[0]}|${c[1]}|${c[2]}|${c[3]}`, c[1], c[3]]);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const hash = createHash('sha256');
  const totals = Object.fromEntries(METRICS.map((m) => [m.name, 0]));
  for (const [line, metric, quantity] of keyed) {
    hash.update(`${line}\n`);
    totals[metric] = (totals[metric] ?? 0) + quantity;
  }
  return { cells: cells.length, totals, checksum: hash.digest('hex') };
}

// ---------------------------------------------------------------------------------------------
// The lake: generated once per set of parameters, then reused

function lakeParams(opts) {
  return {
    generator: GENERATOR_VERSION,
    events: opts.events,
    days: opts.days,
    tenants: opts.tenants,
    perObject: opts.perObject,
    seed: opts.seed,
    end: PERIOD_END,
    duplicateRate: DUPLICATE_RATE,
    lateRate: LATE_RATE,
    zipfExponent: ZIPF_EXPONENT,
    metrics: METRICS,
  };
}

function paramsHash(params) {
  return createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 12);
}

async function ensureLake(dir, params, regenerate) {
  const manifestFile = path.join(dir, 'manifest.json');
  const existing = await readFile(manifestFile, 'utf8')
    .then((text) => JSON.parse(text))
    .catch(() => undefined);
  if (!regenerate && existing && JSON.stringify(existing.params) === JSON.stringify(params)) {
    progress(`reusing the lake in ${dir} (generated ${existing.generatedAt}; --regenerate to redo it)`);
    return existing;
  }
  if (!regenerate && !existing && existsSync(path.join(dir, 'raw'))) {
    throw new Error(`${dir}/raw exists but has no manifest.json: pass --regenerate to replace it.`);
  }
  await rm(manifestFile, { force: true });
  await rm(path.join(dir, 'raw'), { recursive: true, force: true });
  progress(
    `generating ${thousands(params.events)} events over ${params.days} day(s), ${thousands(params.tenants)} tenants, ` +
      `into ${dir}…`,
  );
  const began = performance.now();
  const manifest = await generateLake(dir, params);
  manifest.generationMs = Math.round(performance.now() - began);
  await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  progress(
    `generated ${thousands(manifest.objects)} objects (${(manifest.bytes / 2 ** 20).toFixed(1)} MiB gzip) ` +
      `in ${(manifest.generationMs / 1000).toFixed(1)} s`,
  );
  return manifest;
}

/**
 * Events with Zipf-skewed tenants and ts uniform over the period; each arrives seconds after
 * its ts (LATE_RATE of them 1-20 h late). Sorted by arrival, cut into objects of `perObject`
 * events; DUPLICATE_RATE of the events are written twice, the copy later in the same object or
 * anywhere in the next one. Sum quantities are whole numbers, so every order of summing gives
 * the same total.
 *
 * Objects are cut as Firehose cuts them: at `perObject` events or when the buffer has held
 * records for 900 s (its longest interval), whichever comes first, and keyed by the arrival of
 * the object's first record. At the default 2M events in 12 hours, a 900 s buffer holds about
 * 42,000 events; longer periods give smaller objects.
 */
async function generateLake(dir, params) {
  const { lakeObjectKey } = await import(pathToFileURL(layoutModule()).href);
  const { events: n, tenants, perObject, seed } = params;
  const to = Date.parse(params.end);
  const from = to - params.days * DAY_MS;
  const rng = sfc32(seed);

  const width = Math.max(4, String(tenants).length);
  const tenantIds = Array.from({ length: tenants }, (_, i) => `t${String(i + 1).padStart(width, '0')}`);
  // Rank r (0-based) gets weight 1/(r+1)^s; ranks are shuffled over the ids.
  const byRank = shuffle(
    Array.from({ length: tenants }, (_, i) => i),
    rng,
  );
  const cdf = new Float64Array(tenants);
  let acc = 0;
  for (let r = 0; r < tenants; r++) cdf[r] = acc += 1 / (r + 1) ** params.zipfExponent;
  for (let r = 0; r < tenants; r++) cdf[r] /= acc;
  const storageBase = Float64Array.from({ length: tenants }, () => 1 + Math.floor(rng() * 500));
  const metricCdf = [];
  acc = 0;
  for (const m of METRICS) metricCdf.push((acc += m.share));

  const ts = new Float64Array(n);
  const arrival = new Float64Array(n);
  const tenant = new Uint16Array(n);
  const metric = new Uint8Array(n);
  const quantity = new Float64Array(n);
  const span = to - from;
  for (let i = 0; i < n; i++) {
    const t = byRank[lowerBound(cdf, rng())];
    const u = rng();
    let m = 0;
    while (m < METRICS.length - 1 && u >= metricCdf[m]) m++;
    tenant[i] = t;
    metric[i] = m;
    if (METRICS[m].name === 'api.call') quantity[i] = 1 + Math.floor(rng() ** 3 * 20);
    else if (METRICS[m].name === 'doc.processed') quantity[i] = 1 + Math.floor(rng() * 5);
    else quantity[i] = Math.round(storageBase[t] * (0.9 + 0.2 * rng()) * 1000) / 1000;
    ts[i] = from + Math.floor(rng() * span);
    let a = ts[i] + 1000 + Math.floor(rng() * 299_000);
    if (rng() < params.lateRate) a += HOUR_MS + Math.floor(rng() * 19 * HOUR_MS);
    arrival[i] = a;
  }

  // The truth: one cell per tenant, metric and hour of ts.
  const truth = new Map();
  const hours = params.days * 24;
  for (let i = 0; i < n; i++) {
    const hour = Math.floor((ts[i] - from) / HOUR_MS);
    const key = (tenant[i] * METRICS.length + metric[i]) * hours + hour;
    const cell = truth.get(key);
    if (cell === undefined) truth.set(key, [quantity[i], 1]);
    else {
      cell[0] =
        METRICS[metric[i]].aggregation === 'max' ? Math.max(cell[0], quantity[i]) : cell[0] + quantity[i];
      cell[1]++;
    }
  }
  const expectedCells = [];
  for (const [key, [q, count]] of truth) {
    const hour = key % hours;
    const tm = (key - hour) / hours;
    const m = tm % METRICS.length;
    const t = (tm - m) / METRICS.length;
    const hourKey = new Date(from + hour * HOUR_MS).toISOString().slice(0, 13);
    expectedCells.push([tenantIds[t], METRICS[m].name, hourKey, q, count]);
  }
  const expected = digest(expectedCells);
  truth.clear();

  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => arrival[a] - arrival[b] || a - b);

  const line = (i) =>
    `{"eventId":"${eventId(seed, i)}","tenantId":"${tenantIds[tenant[i]]}","metric":"${METRICS[metric[i]].name}",` +
    `"quantity":${quantity[i]},"ts":"${new Date(ts[i]).toISOString()}"}`;
  // Object boundaries: perObject events, or 900 s of arrivals after the first.
  const bounds = [0];
  for (let k = 1; k < n; k++) {
    const first = bounds[bounds.length - 1];
    if (k - first >= perObject || arrival[order[k]] - arrival[order[first]] > FIREHOSE_BUFFER_MS)
      bounds.push(k);
  }
  bounds.push(n);
  const objects = bounds.length - 1;
  let carried = [];
  let duplicates = 0;
  let lines = 0;
  let bytes = 0;
  for (let j = 0; j < objects; j++) {
    const start = bounds[j];
    const end = bounds[j + 1];
    const size = end - start;
    const last = j === objects - 1;
    // [position, line]: events at their index, copies after the original or anywhere in the next object.
    const entries = carried.map(([fraction, text]) => [fraction * size, text]);
    carried = [];
    for (let k = 0; k < size; k++) {
      const text = line(order[start + k]);
      entries.push([k, text]);
      if (rng() < params.duplicateRate) {
        duplicates++;
        if (last || rng() < 0.5) entries.push([k + 0.5 + rng() * (size - k - 0.5), text]);
        else carried.push([rng(), text]);
      }
    }
    entries.sort((a, b) => a[0] - b[0]);
    const body = await gzip(`${entries.map((e) => e[1]).join('\n')}\n`);
    const key = lakeObjectKey({
      stream: STREAM,
      arrival: new Date(arrival[order[start]]),
      uuid: uuidOf(hash32(seed ^ 0x5bd1e995), j),
    });
    await mkdir(path.join(dir, path.dirname(key)), { recursive: true });
    await writeFile(path.join(dir, key), body);
    lines += entries.length;
    bytes += body.length;
  }
  return {
    params,
    generatedAt: new Date().toISOString(),
    period: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    objects,
    lines,
    events: n,
    duplicates,
    bytes,
    expected,
  };
}

/** A UUID-shaped id whose first group is a bijection of the index, so ids never collide by chance. */
function eventId(seed, i) {
  return uuidOf(hash32(seed), i);
}

function uuidOf(salt, i) {
  const a = hash32((i + salt) >>> 0);
  const b = hash32((i ^ 0x9e3779b9 ^ salt) >>> 0);
  const c = hash32((i + 0x7f4a7c15 + salt) >>> 0);
  const d = hash32((i ^ 0x2545f491 ^ (salt >>> 3)) >>> 0);
  const hex = (v, len) =>
    (v >>> 0)
      .toString(16)
      .padStart(8, '0')
      .slice(8 - len);
  return (
    `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b, 3)}-${(8 | (c >>> 30)).toString(16)}${hex(c, 3)}-` +
    `${hex(c >>> 12, 4)}${hex(d, 8)}`
  );
}

/** murmur3's finalizer: a bijection on 32-bit integers. */
function hash32(x) {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** sfc32 (128-bit state), seeded through hash32: floats in [0, 1). */
function sfc32(seed) {
  let a = hash32(seed ^ 0x9e3779b9);
  let b = hash32(seed + 0x6a09e667);
  let c = hash32(seed ^ 0xbb67ae85);
  let d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

function shuffle(array, rng) {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [array[i], array[j]] = [array[j], array[i]];
  }
  return array;
}

/** The first index whose cumulative weight exceeds u. */
function lowerBound(cdf, u) {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Reporting, options, housekeeping

function printReport(report) {
  const { lake, engines } = report;
  const m = report.machine;
  console.log(
    `\nsaasctl reconcile, ${report.date.slice(0, 10)}: ${m.node}, ${m.cpus} cpus (${m.cpuModel}), ` +
      `${report.settings.runs} run(s) per engine, DuckDB threads ${report.settings.duckdbThreads}`,
  );
  console.log(
    `Lake: ${thousands(lake.events)} distinct events + ${thousands(lake.duplicates)} duplicates in ` +
      `${thousands(lake.objects)} objects (${(lake.bytes / 2 ** 20).toFixed(1)} MiB gzip), ` +
      `${thousands(lake.params.tenants)} tenants, ${lake.params.days} day(s): ${lake.period.from} to ${lake.period.to}`,
  );
  const load = report.loadAverage;
  console.log(
    `Load average ${load.before[0]} at the start, ${load.after[0]} after the runs` +
      `${load.busy ? ' (BUSY: absolute times inflated)' : ''}.\n`,
  );
  const headers = ['Engine', 'median ms', 'min ms', 'max ms', 'events/s', 'peak RSS MB', 'cells'];
  const lines = ENGINES.map((name) => {
    const e = engines[name];
    if (e.median === undefined) return [name, 'FAILED', '', '', '', '', ''];
    return [
      name,
      thousands(Math.round(e.median)),
      thousands(Math.round(e.min)),
      thousands(Math.round(e.max)),
      thousands(e.eventsPerSec),
      e.maxRssMb.toFixed(1),
      thousands(e.cells),
    ];
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(format(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
  for (const name of ENGINES) {
    if (engines[name].error) console.log(`\n${name} failed: ${engines[name].error}`);
  }
  console.log('');
  const nameWidth = Math.max(...report.checks.map((c) => c.name.length));
  for (const c of report.checks) {
    const verdict = c.pass === null ? 'PENDING' : c.pass ? 'PASS' : 'FAIL';
    console.log(`${c.name.padEnd(nameWidth)}  ${verdict.padEnd(7)}  ${c.detail}`);
  }
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        events: { type: 'string', default: '2000000' },
        days: { type: 'string', default: '0.5' },
        tenants: { type: 'string', default: '1400' },
        'per-object': { type: 'string', default: '50000' },
        seed: { type: 'string', default: '1' },
        runs: { type: 'string', default: '3' },
        threads: { type: 'string', default: '2' },
        dir: { type: 'string' },
        regenerate: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        'no-save': { type: 'boolean', default: false },
        dist: { type: 'string' },
        snapshot: { type: 'boolean', default: false },
        child: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name, min, max = Number.MAX_SAFE_INTEGER) => {
    const value = Number(parsed[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      console.error(`--${name} must be an integer from ${min} to ${max}, got "${parsed[name]}".\n\n${USAGE}`);
      process.exit(2);
    }
    return value;
  };
  // Days in whole hours (0.5 is 12 hours): the generator keys cells by hour.
  const days = () => {
    const value = Number(parsed.days);
    if (!Number.isInteger(value * 24) || value * 24 < 1 || value > 3660) {
      console.error(
        `--days must be a whole number of hours (a multiple of 1/24) up to 3660, got "${parsed.days}".`,
      );
      process.exit(2);
    }
    return value;
  };
  const dist = path.resolve(parsed.dist ?? path.join(ROOT, 'dist'));
  if (parsed.child !== undefined) {
    if (!ENGINES.includes(parsed.child) || !parsed.dir || !parsed.from || !parsed.to) {
      console.error(`--child needs one of ${ENGINES.join(', ')}, --dir, --from and --to.`);
      process.exit(2);
    }
    return {
      child: parsed.child,
      dir: parsed.dir,
      from: parsed.from,
      to: parsed.to,
      threads: count('threads', 1),
      dist,
    };
  }
  return {
    events: count('events', 1, 2 ** 32 - 1),
    days: days(),
    tenants: count('tenants', 1, 65_535),
    perObject: count('per-object', 1),
    seed: count('seed', 0, 2 ** 32 - 1),
    runs: count('runs', 1),
    threads: count('threads', 1),
    dir: parsed.dir === undefined ? undefined : path.resolve(parsed.dir),
    regenerate: parsed.regenerate,
    check: parsed.check,
    save: !parsed['no-save'],
    dist,
    snapshot: parsed.snapshot,
  };
}

function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: round1(median(values)), min: round1(sorted[0]), max: round1(sorted.at(-1)) };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function rate(result) {
  return result.events / (result.ms / 1000);
}

function formatTotals(totals) {
  return Object.entries(totals)
    .map(([name, value]) => `${name} ${thousands(round2(value))}`)
    .join(', ');
}

function rel(file) {
  return path.relative(process.cwd(), file) || file;
}

function progress(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

function thousands(n) {
  return n.toLocaleString('en-US');
}

function round1(n) {
  return Math.round(n * 10) / 10;
}

function round2(n) {
  return Math.round(n * 100) / 100;
}
