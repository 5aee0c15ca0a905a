#!/usr/bin/env node
// Startup benchmark for saasctl: wall time of one-shot commands against `node -e 0` measured in
// the same run, a 1,000-tenant `tenant list` with and without a running local stack, and a check
// that aws-cdk-lib is never loaded by the CLI. See bench/README.md. Needs a current build
// (`npm run build`): it runs bin/run.js, which loads dist/, and seeds tenants with dist/ modules.
import { spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where the CLI runs from: the checkout, or a copy of its build (--snapshot). */
let APP = ROOT;
let BIN = path.join(APP, 'bin', 'run.js');
const STAGE = 'local';
const REGION = 'us-east-1';
const COMMAND_TIMEOUT_MS = 120_000;
// Taken before any dist/ module is imported (clients.js sets an SDK variable on import), so the
// children see the caller's environment plus only what is set below.
const CALLER_ENV = { ...process.env };

const USAGE = `Usage: node bench/startup.js [options]   (npm run bench -- [options])

  --runs N          timed runs per row (default 10)
  --warmup N        untimed runs per row before timing (default 1)
  --tenants N       tenants to seed (default 1000)
  --concurrency N   concurrent creates while seeding (default 50)
  --check           exit 1 when a target is missed (default: report only, exit 0)
  --no-trace        skip the aws-cdk-lib reachability trace
  --no-save         do not write bench/results/startup-<date>.json
  --snapshot        run a copy of the build, so a rebuild during the run cannot break it
  -h, --help        this text`;

const options = parseOptions();

/** Rows timed round-robin, one run of each per round, all as one-shot processes. */
const ONE_SHOT_ROWS = [
  { id: 'baseline', label: 'node -e 0', args: ['-e', '0'] },
  {
    id: 'version',
    label: 'saasctl --version',
    cli: true,
    args: ['--version'],
    target: { kind: 'ratio', max: 1.5 },
    check: (stdout) => stdout.startsWith('saasctl/'),
  },
  {
    id: 'help',
    label: 'saasctl --help',
    cli: true,
    args: ['--help'],
    target: { kind: 'ratio', max: 3.5 },
    check: (stdout) => stdout.includes('TOPICS'),
  },
  {
    id: 'tier-list',
    label: 'saasctl tier list --json (one-shot)',
    cli: true,
    args: ['tier', 'list', '--json'],
    // No target: it makes an AWS call (a DynamoDB query), and the 3.5x target is for commands
    // that make none (--help). Recorded so a regression shows.
    check: (stdout) => jsonLength(stdout) === 5,
  },
  {
    id: 'tenant-list',
    label: `saasctl tenant list --json (one-shot, ${thousands(options.tenants)} tenants)`,
    cli: true,
    args: ['tenant', 'list', '--json'],
    target: { kind: 'ms', max: 1500 },
    check: (stdout) => jsonLength(stdout) === options.tenants,
  },
];

const RUNNING_ROW = {
  id: 'tenant-list-running',
  running: true,
  label: `saasctl tenant list --json (running stack, ${thousands(options.tenants)} tenants)`,
  cli: true,
  args: ['tenant', 'list', '--json'],
  check: (stdout) => jsonLength(stdout) === options.tenants,
};

/** Not a target: shows how much of `tier list` is the stack start. */
const TIER_RUNNING_ROW = {
  id: 'tier-list-running',
  running: true,
  label: 'saasctl tier list --json (running stack)',
  cli: true,
  args: ['tier', 'list', '--json'],
  check: (stdout) => jsonLength(stdout) === 5,
};

const NO_CA_ROW = {
  id: 'baseline-no-extra-ca',
  label: 'node -e 0 (NODE_EXTRA_CA_CERTS unset)',
  args: ['-e', '0'],
};

async function main() {
  await requireBuild();
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  progress(`saasctl startup benchmark: ${options.runs} runs per row (+${options.warmup} warm-up)`);
  if (options.snapshot) {
    APP = await snapshotBuild(path.join(scratch, 'app'));
    BIN = path.join(APP, 'bin', 'run.js');
    progress(`running a copy of the build: ${APP}`);
  }
  progress(`scratch home: ${home}`);

  progress(`seeding ${thousands(options.tenants)} tenants (${options.concurrency} at a time)…`);
  const seedMs = await seed(home, options.tenants, options.concurrency);
  progress(`seeded in ${Math.round(seedMs)} ms`);

  // The running-stack rows use a copy of the seeded home with a daemon on it, so every row can be
  // timed in the same rounds: load from other processes then weighs on all rows alike. An idle
  // daemon uses no measurable CPU; the one-shot rows never touch its home.
  await cp(home, runningHome, { recursive: true });
  progress('local start --detach (for the running-stack rows)…');
  const start = await startDaemon(runningEnv);

  const rows = [...ONE_SHOT_ROWS, RUNNING_ROW, TIER_RUNNING_ROW];
  if (CALLER_ENV.NODE_EXTRA_CA_CERTS) rows.splice(1, 0, NO_CA_ROW);
  const envOf = (row) => (row === NO_CA_ROW ? withoutExtraCa(env) : row.running ? runningEnv : env);
  const samples = new Map(rows.map((row) => [row.id, []]));
  let stop;
  try {
    for (let round = -options.warmup; round < options.runs; round++) {
      progress(
        round < 0 ? `warm-up round ${round + options.warmup + 1}` : `round ${round + 1}/${options.runs}`,
      );
      for (const row of rows) {
        const ms = await timed(row, envOf(row));
        if (round >= 0) samples.get(row.id).push(ms);
      }
    }
  } finally {
    progress('local stop…');
    stop = await stopDaemon(runningEnv);
  }
  const loadAfter = os.loadavg();
  // The benchmark keeps about one CPU busy itself, so the load after the rounds counts it too.
  const busy = loadBefore[0] > os.cpus().length * 0.5 || loadAfter[0] > 1 + os.cpus().length * 0.5;
  if (busy) {
    progress(
      `warning: other processes were busy (1-min load average ${loadBefore[0].toFixed(2)} at the start, ` +
        `${loadAfter[0].toFixed(2)} after the rounds, ${os.cpus().length} cpus): absolute times are inflated; ratios less so.`,
    );
  }

  const baseline = summarize(samples.get('baseline'));
  const results = rows.map((row) => {
    const stats = summarize(samples.get(row.id));
    const ratio = stats.median / baseline.median;
    const result = {
      id: row.id,
      command: row.label,
      ...stats,
      ratio: round2(ratio),
      ratioP90: round2(stats.p90 / baseline.p90),
      samples: samples.get(row.id).map(round1),
    };
    if (row.target) {
      const value = row.target.kind === 'ratio' ? ratio : stats.median;
      result.target =
        row.target.kind === 'ratio' ? `≤ ${row.target.max}x node -e 0` : `< ${row.target.max} ms`;
      result.pass = row.target.kind === 'ratio' ? value <= row.target.max : value < row.target.max;
      result.margin =
        row.target.kind === 'ratio'
          ? `${value <= row.target.max ? '' : '+'}${round2(value - row.target.max)}x`
          : `${value < row.target.max ? '' : '+'}${Math.round(value - row.target.max)} ms`;
    }
    return result;
  });

  let trace;
  if (options.trace) {
    progress('tracing module resolution for aws-cdk-lib…');
    trace = await traceCdk();
  }
  const staticCheck = await staticCdkCheck();
  const cdkReachable = Boolean(trace?.reachable) || staticCheck.referenced;

  const report = {
    date: startedAt.toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      nodeExtraCaCerts: CALLER_ENV.NODE_EXTRA_CA_CERTS ?? null,
      nodeOptions: CALLER_ENV.NODE_OPTIONS ?? null,
    },
    settings: {
      snapshot: options.snapshot,
      runs: options.runs,
      warmup: options.warmup,
      tenants: options.tenants,
      concurrency: options.concurrency,
      statistic: 'median for targets; p90 by nearest rank',
    },
    loadAverage: { before: loadBefore.map(round2), after: loadAfter.map(round2), busy },
    seedMs: Math.round(seedMs),
    localStartDetachMs: round1(start.ms),
    localStopMs: round1(stop.ms),
    rows: results,
    awsCdkLib: { reachable: cdkReachable, trace: trace ?? null, static: staticCheck },
  };

  printReport(report);
  if (options.save) {
    const dir = path.join(ROOT, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `startup-${startedAt.toISOString().slice(0, 10)}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nResults written to ${path.relative(process.cwd(), file)}`);
  }
  const failed = results.filter((r) => r.pass === false).length + (cdkReachable ? 1 : 0);
  if (options.check && failed > 0) {
    console.log(`\n--check: ${failed} target(s) missed.`);
    process.exitCode = 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Seeding

/**
 * Creates the tenants through the CLI's own catalog code (dist/), in one process: the stack is
 * started for this process's lifetime (only DynamoDB), the records written `concurrency` at a
 * time, and the stack released, which stops it and leaves its state in `home`.
 */
async function seed(stackHome, count, concurrency) {
  const dist = (file) => import(pathToFileURL(path.join(APP, 'dist', 'lib', file)).href);
  const { connect, localClients } = await dist('local/stack.js');
  const { TenantCatalog } = await dist('tenants/catalog.js');
  const { DEFAULT_TIERS } = await dist('tenants/tiers.js');
  const began = performance.now();
  const session = await connect({ home: stackHome, stage: STAGE, region: REGION, services: ['dynamodb'] });
  const clients = localClients(session.info.endpoints, REGION);
  try {
    const catalog = new TenantCatalog(clients.documents(), session.info.platform.tables.controlPlane);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const tier = DEFAULT_TIERS[i % DEFAULT_TIERS.length];
        const id = `bench-${String(i + 1).padStart(5, '0')}`;
        const { created } = await catalog.create(
          {
            tenantId: id,
            name: `Benchmark Tenant ${i + 1}`,
            tier: tier.name,
            isolation: tier.isolation,
            region: REGION,
            adminEmail: `admin@${id}.example.com`,
          },
          { actor: 'bench:seed', reason: 'startup benchmark' },
        );
        if (!created) throw new Error(`tenant ${id} already existed in a fresh home`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    clients.destroy();
    await session.release();
  }
  return performance.now() - began;
}

// ---------------------------------------------------------------------------------------------
// Running and timing

/** Wall time from spawn to the child's exit with its output drained (the 'close' event). */
function run(args, childEnv, { evenIfInterrupted = false } = {}) {
  return new Promise((resolve, reject) => {
    if (interrupted && !evenIfInterrupted) {
      reject(new Error('interrupted'));
      return;
    }
    const out = [];
    const err = [];
    const began = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    children.add(child);
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      const ms = performance.now() - began;
      clearTimeout(timer);
      children.delete(child);
      resolve({
        ms,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

async function runChecked(args, childEnv, check) {
  const result = await run(args, childEnv);
  const display = args.map((a) => (a === BIN ? path.relative(ROOT, a) || a : a)).join(' ');
  if (result.code !== 0) {
    throw new Error(
      `\`node ${display}\` failed (exit ${result.code ?? result.signal}):\n${result.stderr || result.stdout}`,
    );
  }
  if (check && !check(result.stdout)) {
    throw new Error(`\`node ${display}\` printed something unexpected:\n${result.stdout.slice(0, 2000)}`);
  }
  return result;
}

/** One run of a row; its exit code and output are checked, so a failing command is never timed. */
async function timed(row, childEnv) {
  return (await runChecked(row.cli ? [BIN, ...row.args] : row.args, childEnv, row.check)).ms;
}

function withoutExtraCa(childEnv) {
  const copy = { ...childEnv };
  delete copy.NODE_EXTRA_CA_CERTS;
  return copy;
}

function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const p90 = sorted[Math.max(0, Math.ceil(sorted.length * 0.9) - 1)];
  return { median: round1(median), p90: round1(p90), min: round1(sorted[0]), max: round1(sorted.at(-1)) };
}

// ---------------------------------------------------------------------------------------------
// aws-cdk-lib reachability

const REGISTER_HOOKS = `import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

// CommonJS: every require() (including createRequire) goes through _resolveFilename.
const log = process.env.SAASCTL_BENCH_TRACE;
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  let resolved = null;
  try {
    resolved = resolveFilename.call(this, request, parent, ...rest);
    return resolved;
  } finally {
    appendFileSync(log, JSON.stringify({ pid: process.pid, kind: 'require', specifier: request, resolved }) + '\\n');
  }
};
// ESM: every import and import() goes through the resolve hook (loader thread).
register('./hooks.mjs', import.meta.url, { data: { log } });
`;

const RESOLVE_HOOK = `import { appendFileSync } from 'node:fs';

let log;
export function initialize(data) {
  log = data.log;
}
export async function resolve(specifier, context, nextResolve) {
  let resolved = null;
  try {
    const result = await nextResolve(specifier, context);
    resolved = result.url;
    return result;
  } finally {
    appendFileSync(log, JSON.stringify({ pid: process.pid, kind: 'import', specifier, resolved }) + '\\n');
  }
}
`;

/**
 * Runs every benchmarked command once more with a preload (NODE_OPTIONS, so detached stacks and
 * forked emulators are traced too) that records each module specifier resolved, whether or not
 * it resolves, through both require() and import.
 */
async function traceCdk() {
  const dir = path.join(scratch, 'trace');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'register.mjs'), REGISTER_HOOKS);
  await writeFile(path.join(dir, 'hooks.mjs'), RESOLVE_HOOK);
  const register = pathToFileURL(path.join(dir, 'register.mjs')).href;
  const commands = [
    ['--version'],
    ['--help'],
    ['tier', 'list', '--json'],
    ['tenant', 'list', '--json'],
    ['local', 'start', '--detach', '--json'],
    ['tenant', 'list', '--json'],
    ['local', 'stop', '--json'],
  ];
  const perCommand = [];
  const all = [];
  for (const [index, args] of commands.entries()) {
    const log = path.join(dir, `trace-${index}.jsonl`);
    const traceEnv = {
      ...env,
      SAASCTL_BENCH_TRACE: log,
      NODE_OPTIONS: `${CALLER_ENV.NODE_OPTIONS ?? ''} --import ${register}`.trim(),
    };
    if (args[0] === 'local' && args[1] === 'start') {
      await startDaemon(traceEnv);
    } else if (args[0] === 'local' && args[1] === 'stop') {
      await stopDaemon(traceEnv);
      // The daemon's own records land in the start command's log; wait for it to be gone.
      await waitForStackGone();
    } else {
      await runChecked([BIN, ...args], traceEnv);
    }
    const records = await readTrace(log);
    all.push(...records);
    const packages = [...new Set(records.map((r) => packageOf(r.resolved)).filter(Boolean))].sort();
    perCommand.push({
      command: `saasctl ${args.join(' ')}`,
      processes: new Set(records.map((r) => r.pid)).size,
      modulesResolved: new Set(records.map((r) => r.resolved).filter(Boolean)).size,
      packageCount: packages.length,
      packages,
    });
  }
  // Re-read the start command's log: the daemon appended to it until it stopped.
  const startLog = await readTrace(path.join(dir, 'trace-4.jsonl'));
  all.push(...startLog);
  const hits = all.filter(
    (r) =>
      r.specifier === 'aws-cdk-lib' ||
      r.specifier.startsWith('aws-cdk-lib/') ||
      String(r.resolved ?? '').includes('/node_modules/aws-cdk-lib/'),
  );
  const saw = (name) => all.some((r) => packageOf(r.resolved) === name);
  // The trace proves nothing unless it demonstrably saw the CLI's own loads.
  const working = saw('@oclif/core') && saw('@aws-sdk/client-dynamodb') && saw('dynalite');
  return {
    method:
      'NODE_OPTIONS=--import <hook>: Module._resolveFilename (require) + module.register resolve hook (import)',
    working,
    reachable: working ? hits.length > 0 : null,
    hits: [...new Set(hits.map((r) => `${r.specifier} -> ${r.resolved}`))].slice(0, 20),
    processesTraced: new Set(all.map((r) => r.pid)).size,
    perCommand,
  };
}

async function readTrace(file) {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function waitForStackGone() {
  for (let i = 0; i < 100 && existsSync(path.join(home, 'stack.json')); i++) {
    await sleep(100);
  }
}

function packageOf(resolved) {
  if (!resolved) return undefined;
  const file = resolved.startsWith('file:') ? fileURLToPath(resolved) : resolved;
  const at = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (at < 0) return undefined;
  const parts = file.slice(at + 'node_modules'.length + 2).split(path.sep);
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** No file under bin/ or dist/ names it, and it is not in the installed production tree. */
async function staticCdkCheck() {
  const files = [
    ...(await listFiles(path.join(APP, 'bin'))),
    ...(await listFiles(path.join(APP, 'dist'))),
  ].filter((f) => /\.(c|m)?js$/.test(f));
  const referencing = [];
  for (const file of files) {
    if ((await readFile(file, 'utf8')).includes('aws-cdk-lib')) referencing.push(path.relative(APP, file));
  }
  const lock = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8').catch(() => '{}'));
  const entries = Object.entries(lock.packages ?? {}).filter(([key]) =>
    key.endsWith('node_modules/aws-cdk-lib'),
  );
  return {
    filesScanned: files.length,
    referencing,
    referenced: referencing.length > 0,
    inLockfile: entries.map(([key, value]) => ({ path: key, dev: Boolean(value.dev) })),
    installedAtRoot: existsSync(path.join(ROOT, 'node_modules', 'aws-cdk-lib')),
  };
}

async function listFiles(dir) {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else files.push(full);
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Reporting, options, housekeeping

function printReport(report) {
  const headers = ['Command', 'median ms', 'p90 ms', 'x node -e 0', 'Target', 'Result'];
  const lines = report.rows.map((r) => [
    r.command,
    r.median.toFixed(1),
    r.p90.toFixed(1),
    `${r.ratio.toFixed(2)}x`,
    r.target ?? (r.id === 'baseline' ? '(baseline)' : '(info)'),
    r.pass === undefined ? '' : `${r.pass ? 'PASS' : 'FAIL'} (${r.margin})`,
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) =>
    cells.map((c, i) => (i === 0 || i >= 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const m = report.machine;
  console.log(
    `\nsaasctl startup, ${report.date.slice(0, 10)}: ${m.node}, ${m.cpus} cpus (${m.cpuModel}), ` +
      `${report.settings.runs} runs per row, NODE_EXTRA_CA_CERTS ${m.nodeExtraCaCerts ? 'set' : 'unset'}`,
  );
  const load = report.loadAverage;
  console.log(
    `Seeded ${thousands(report.settings.tenants)} tenants in ${report.seedMs} ms. Load average ` +
      `${load.before[0]} at the start, ${load.after[0]} after the rounds` +
      `${load.busy ? ' (BUSY: absolute times inflated)' : ''}.\n`,
  );
  console.log(format(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
  console.log(
    `\nlocal start --detach: ${Math.round(report.localStartDetachMs)} ms; local stop: ${Math.round(report.localStopMs)} ms (single runs)`,
  );
  const cdk = report.awsCdkLib;
  const how = [];
  if (cdk.trace) {
    how.push(
      cdk.trace.working
        ? `traced ${cdk.trace.processesTraced} processes (require + import)`
        : 'trace INCONCLUSIVE (hooks saw no CLI modules)',
    );
  }
  how.push(`${cdk.static.filesScanned} files in bin/ and dist/ scanned`);
  console.log(`aws-cdk-lib reachable: ${cdk.reachable ? 'YES' : 'no'} (${how.join('; ')})`);
  if (cdk.trace?.hits.length) for (const hit of cdk.trace.hits) console.log(`  ${hit}`);
  for (const file of cdk.static.referencing) console.log(`  referenced in ${file}`);
  if (cdk.trace) {
    for (const c of cdk.trace.perCommand) {
      console.log(
        `  ${c.command}: ${c.modulesResolved} modules from ${c.packageCount} packages in ${c.processes} process(es)`,
      );
    }
  }
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        runs: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '1' },
        tenants: { type: 'string', default: '1000' },
        concurrency: { type: 'string', default: '50' },
        check: { type: 'boolean', default: false },
        'no-trace': { type: 'boolean', default: false },
        'no-save': { type: 'boolean', default: false },
        snapshot: { type: 'boolean', default: false },
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
  const count = (name, min) => {
    const value = Number(parsed[name]);
    if (!Number.isInteger(value) || value < min) {
      console.error(`--${name} must be an integer ≥ ${min}, got "${parsed[name]}".\n\n${USAGE}`);
      process.exit(2);
    }
    return value;
  };
  return {
    runs: count('runs', 1),
    warmup: count('warmup', 0),
    tenants: count('tenants', 1),
    concurrency: count('concurrency', 1),
    check: parsed.check,
    trace: !parsed['no-trace'],
    save: !parsed['no-save'],
    snapshot: parsed.snapshot,
  };
}

async function requireBuild() {
  const needed = ['dist/lib/local/stack.js', 'dist/lib/tenants/catalog.js', 'oclif.manifest.json'];
  const missing = needed.filter((file) => !existsSync(path.join(ROOT, file)));
  if (missing.length > 0) throw new Error(`No build (${missing.join(', ')} missing): run \`npm run build\`.`);
  // A stale build benchmarks old code: warn when a source file is newer than the manifest.
  const built = (await stat(path.join(ROOT, 'oclif.manifest.json'))).mtimeMs;
  const sources = (await listFiles(path.join(ROOT, 'src'))).filter((f) => f.endsWith('.ts'));
  const stale = [];
  for (const file of sources) if ((await stat(file)).mtimeMs > built) stale.push(path.relative(ROOT, file));
  if (stale.length > 0) {
    progress(`warning: the build is older than ${stale.slice(0, 3).join(', ')}: run \`npm run build\`.`);
  }
}

/**
 * Copies the build (bin/, dist/, package.json, oclif.manifest.json) and links node_modules, so
 * that a rebuild of the checkout during the run (rm -rf dist) cannot break it. The code run is
 * the same; module resolution still ends in the checkout's node_modules.
 */
async function snapshotBuild(app) {
  await mkdir(app, { recursive: true });
  for (const entry of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
    await cp(path.join(ROOT, entry), path.join(app, entry), { recursive: true });
  }
  await symlink(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  const manifest = JSON.parse(await readFile(path.join(app, 'oclif.manifest.json'), 'utf8'));
  const missing = Object.values(manifest.commands)
    .map((command) => path.join(...command.relativePath))
    .filter((file) => !existsSync(path.join(app, file)));
  if (missing.length > 0) {
    throw new Error(`The build changed while it was copied (${missing[0]} missing): try again.`);
  }
  return app;
}

/** `local start --detach`, remembering the daemon's pid so that it is stopped whatever happens. */
async function startDaemon(childEnv) {
  const args = [BIN, 'local', 'start', '--detach', '--json'];
  const result = await runChecked(args, childEnv, (stdout) => Number.isInteger(JSON.parse(stdout).pid));
  daemons.set(childEnv.SAASCTL_HOME, { pid: JSON.parse(result.stdout).pid, env: childEnv });
  return result;
}

async function stopDaemon(childEnv) {
  const result = await runChecked([BIN, 'local', 'stop', '--json'], childEnv);
  daemons.delete(childEnv.SAASCTL_HOME);
  return result;
}

/** Ends the command being run, if any, and the daemons started, then removes the scratch dir. */
function cleanUp() {
  cleaning ??= (async () => {
    for (const child of children) child.kill('SIGTERM');
    for (let i = 0; i < 50 && children.size > 0; i++) await sleep(100);
    await stopDaemons();
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  })();
  return cleaning;
}

/**
 * With `local stop`; when that fails (e.g. dist/ was rebuilt under the run), with SIGTERM to the
 * pid the daemon reported when it started.
 */
async function stopDaemons() {
  for (const [stackHome, daemon] of daemons) {
    daemons.delete(stackHome);
    await run([BIN, 'local', 'stop'], daemon.env, { evenIfInterrupted: true }).catch(() => undefined);
    if (!alive(daemon.pid)) continue;
    process.kill(daemon.pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(daemon.pid); i++) await sleep(100);
    if (alive(daemon.pid)) process.kill(daemon.pid, 'SIGKILL');
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function jsonLength(stdout) {
  const value = JSON.parse(stdout);
  return Array.isArray(value) ? value.length : -1;
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

// ---------------------------------------------------------------------------------------------
// Entry point (last, so every constant above is initialised)

const scratch = await mkdtemp(path.join(os.tmpdir(), 'saasctl-bench-'));
const home = path.join(scratch, 'home');
const env = {
  ...CALLER_ENV,
  SAASCTL_HOME: home,
  SAASCTL_TARGET: 'local',
  SAASCTL_STAGE: STAGE,
  AWS_REGION: REGION,
  NO_COLOR: '1',
};
const runningHome = path.join(scratch, 'home-running');
const runningEnv = { ...env, SAASCTL_HOME: runningHome };
const daemons = new Map();
/** The processes being run right now, ended on an interrupt. */
const children = new Set();
let interrupted = false;
let cleaning;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

try {
  await main();
} catch (err) {
  progress(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
