#!/usr/bin/env node
// Marketplace push benchmark: an hourly `metering push` for N tenants and 3 dimensions against the
// local Marketplace Metering emulator. Checks that the push makes exactly ceil(records / 25)
// BatchMeterUsage calls, uses at least 90% of the 10 requests/s quota and is never throttled, and
// that the emulator accepted exactly the counters. See bench/README.md. Needs a current build
// (`npm run build`): it seeds with dist/ modules and runs bin/run.js.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where the CLI and the seeding modules come from: the checkout, or a copy of its build (--snapshot). */
let APP = ROOT;
const STAGE = 'local';
const REGION = 'us-east-1';
const HOUR_MS = 3_600_000;
const QUOTA = 10;
const RECORDS_PER_CALL = 25;
const UTILIZATION_TARGET = 0.9;
const METRICS = [
  { metric: 'api.call', aggregation: 'sum', quantity: (t) => 100 + (t % 900) },
  { metric: 'doc.processed', aggregation: 'sum', quantity: (t) => 1 + (t % 40) },
  { metric: 'storage.gb', aggregation: 'max', quantity: (t) => 0.5 + (t % 200) / 4 },
];

const USAGE = `Usage: node bench/push.js [options]   (npm run bench:push -- [options])

  --tenants N       subscribed tenants (default 1400)
  --runs N          hourly pushes timed, one per closed hour (1-4, default 2)
  --concurrency N   metering push --concurrency (default: the command's, 4)
  --check           exit 1 when a target is missed (default: report only)
  --snapshot        run a copy of the build, so a rebuild during the run cannot break it
  --no-save         do not write bench/results/push-<date>.json
  -h, --help        this text`;

const options = parseOptions();
try {
  await main();
} catch (err) {
  progress(`failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
}

async function main() {
  if (!existsSync(path.join(ROOT, 'dist', 'lib', 'metering', 'push.js'))) {
    throw new Error('No build (dist/lib/metering/push.js missing): run `npm run build`.');
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'saasctl-bench-push-'));
  if (options.snapshot) {
    APP = await snapshotBuild(path.join(scratch, 'app')).catch(async (err) => {
      await rm(scratch, { recursive: true, force: true });
      throw err;
    });
  }
  const { connect, localClients } = await load('local/stack.js');
  const { TenantCatalog } = await load('tenants/catalog.js');
  const { UsageCounters } = await load('metering/counters.js');
  const { billableUnits } = await load('metering/marketplace.js');
  const { marketplaceControl } = await load('local/emulators/marketplace-control.js');

  const startedAt = new Date();
  const home = path.join(scratch, 'home');
  // This process owns the stack (DynamoDB and the emulator); each push is a one-shot CLI process
  // that leases it, as an hourly CI job would.
  const session = await connect({
    home,
    stage: STAGE,
    region: REGION,
    services: ['dynamodb', 'marketplace'],
  });
  const clients = localClients(session.info.endpoints, REGION);
  const control = marketplaceControl(session.info.endpoints.marketplace);
  try {
    const platform = session.info.platform;
    const currentHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const hours = Array.from({ length: options.runs }, (_, i) => currentHour - (options.runs - i) * HOUR_MS);

    let t = performance.now();
    progress(`seeding ${thousands(options.tenants)} subscribed tenants…`);
    const catalog = new TenantCatalog(clients.documents(), platform.tables.controlPlane);
    const subscriptions = [];
    await inBatches(options.tenants, 50, async (i) => {
      const account = String(400_000_000_000 + i);
      const licenseArn = `arn:aws:license-manager::${account}:license:l-${i.toString(16).padStart(32, '0')}`;
      subscriptions.push({ CustomerAWSAccountId: account, LicenseArn: licenseArn });
      await catalog.create(
        {
          tenantId: tenantId(i),
          name: tenantId(i),
          tier: 'pro',
          isolation: 'pool',
          region: REGION,
          adminEmail: `ops@${tenantId(i)}.test`,
          marketplaceAccountId: account,
          licenseArn,
        },
        { actor: 'bench' },
      );
    });
    await control.registerSubscriptions(subscriptions);
    const seedTenantsMs = performance.now() - t;

    t = performance.now();
    progress(
      `seeding ${thousands(options.tenants * METRICS.length * hours.length)} counters (${hours.length} hours)…`,
    );
    const counters = new UsageCounters(clients.documents(), platform.tables.usage);
    const expected = [];
    for (const hourStart of hours) {
      const hour = new Date(hourStart).toISOString().slice(0, 13);
      let units = 0;
      await inBatches(options.tenants, 32, async (i) => {
        for (const m of METRICS) {
          const quantity = m.quantity(i + hourStart / HOUR_MS);
          units += billableUnits(quantity);
          await counters.apply(
            { tenantId: tenantId(i), metric: m.metric, hour, quantity, aggregation: m.aggregation },
            `bench-${hour}`,
          );
        }
      });
      expected.push({ hour, units, records: options.tenants * METRICS.length });
    }
    const seedCountersMs = performance.now() - t;

    const runs = [];
    for (const [i, { hour, units, records }] of expected.entries()) {
      progress(`run ${i + 1}/${expected.length}: metering push --hour ${hour}:00:00Z…`);
      await control.resetStats();
      const acceptedBefore = (await control.accepted()).length;
      const args = ['metering', 'push', '--hour', `${hour}:00:00Z`, '--json'];
      if (options.concurrency) args.push('--concurrency', String(options.concurrency));
      const started = performance.now();
      const result = await cli(args, home);
      const wallMs = performance.now() - started;
      if (result.code !== 0) throw new Error(`metering push exited ${result.code}: ${result.stderr.trim()}`);
      const body = JSON.parse(result.stdout);
      const stats = await control.stats();
      const accepted = (await control.accepted()).slice(acceptedBefore);
      const callPhaseMs = stats.lastCallAt - stats.firstCallAt;
      // Calls start 1/quota s apart at full use: (calls - 1) intervals over the call phase.
      const callsPerSecond = stats.calls > 1 ? ((stats.calls - 1) * 1000) / callPhaseMs : 0;
      const run = {
        hour,
        records: body.totals.records,
        expectedRecords: records,
        calls: stats.calls,
        expectedCalls: Math.ceil(records / RECORDS_PER_CALL),
        throttled: stats.throttled,
        acceptedRecords: body.totals.accepted,
        unitsAccepted: accepted.reduce((n, r) => n + r.quantity, 0),
        expectedUnits: units,
        wallMs: Math.round(wallMs),
        pushMs: body.elapsedMs,
        readMs: body.timings.readMs,
        planWriteMs: body.timings.planWriteMs,
        sendMs: body.timings.sendMs,
        callPhaseMs: Math.round(callPhaseMs),
        callsPerSecond: round2(callsPerSecond),
        quotaUsed: round2(callsPerSecond / QUOTA),
      };
      runs.push(run);
      progress(
        `  ${thousands(run.records)} records in ${run.calls} calls (${run.throttled} throttled), ` +
          `${(run.wallMs / 1000).toFixed(1)} s wall, call phase ${(run.callPhaseMs / 1000).toFixed(1)} s at ` +
          `${run.callsPerSecond} calls/s (${Math.round(run.quotaUsed * 100)}% of the quota)`,
      );
      progress(
        `  in the push: read ${ms(run.readMs)}, plan written ${ms(run.planWriteMs)}, sent ${ms(run.sendMs)}; ` +
          `CLI start and stop ${ms(run.wallMs - run.pushMs)}`,
      );
    }

    const targets = runs.flatMap((run) => [
      {
        name: `${run.hour}: calls = ceil(records / 25)`,
        ok: run.calls === run.expectedCalls && run.records === run.expectedRecords,
        got: `${run.calls} for ${run.records}`,
      },
      { name: `${run.hour}: no throttling`, ok: run.throttled === 0, got: run.throttled },
      {
        name: `${run.hour}: >= 90% of the quota`,
        ok: run.quotaUsed >= UTILIZATION_TARGET,
        got: `${Math.round(run.quotaUsed * 100)}%`,
      },
      {
        name: `${run.hour}: accepted units = counters`,
        ok: run.unitsAccepted === run.expectedUnits && run.acceptedRecords === run.records,
        got: `${run.unitsAccepted} / ${run.expectedUnits}`,
      },
    ]);
    const report = {
      benchmark: 'push',
      date: startedAt.toISOString(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model,
        node: process.version,
        load: os.loadavg().map(round2),
      },
      tenants: options.tenants,
      dimensions: METRICS.length,
      seeding: { tenantsMs: Math.round(seedTenantsMs), countersMs: Math.round(seedCountersMs) },
      runs,
      targets,
    };
    console.log('');
    for (const target of targets)
      console.log(`${target.ok ? 'ok  ' : 'MISS'} ${target.name} (${target.got})`);
    if (options.save) {
      const dir = path.join(ROOT, 'bench', 'results');
      await mkdir(dir, { recursive: true });
      const file = path.join(dir, `push-${startedAt.toISOString().slice(0, 10)}.json`);
      await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
      progress(`wrote ${path.relative(ROOT, file)}`);
    }
    if (options.check && targets.some((target) => !target.ok)) process.exitCode = 1;
  } finally {
    clients.destroy();
    await session.release();
    await rm(scratch, { recursive: true, force: true });
  }
}

function tenantId(i) {
  return `bench-${String(i).padStart(5, '0')}`;
}

async function inBatches(count, size, fn) {
  for (let i = 0; i < count; i += size) {
    await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, j) => fn(i + j)));
  }
}

function cli(args, home) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(APP, 'bin', 'run.js'), ...args],
      {
        env: {
          ...process.env,
          SAASCTL_HOME: home,
          SAASCTL_TARGET: 'local',
          SAASCTL_STAGE: STAGE,
          AWS_REGION: REGION,
          NO_COLOR: '1',
        },
        maxBuffer: 256 * 1024 * 1024,
        timeout: 10 * 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

function load(module) {
  return import(pathToFileURL(path.join(APP, 'dist', 'lib', module)).href);
}

/** A copy of the build (bin, dist, manifest) next to the checkout's node_modules. */
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
  if (missing.length > 0)
    throw new Error(`The build changed while it was copied (${missing[0]} missing): try again.`);
  return app;
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        tenants: { type: 'string', default: '1400' },
        runs: { type: 'string', default: '2' },
        concurrency: { type: 'string' },
        check: { type: 'boolean', default: false },
        snapshot: { type: 'boolean', default: false },
        'no-save': { type: 'boolean', default: false },
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
  const number = (name, min, max) => {
    const value = Number(parsed[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      console.error(`--${name} must be a whole number from ${min} to ${max}\n\n${USAGE}`);
      process.exit(2);
    }
    return value;
  };
  return {
    tenants: number('tenants', 1, 100_000),
    // Each run pushes one closed hour; four fit in the 6-hour window with room to spare.
    runs: number('runs', 1, 4),
    concurrency: parsed.concurrency === undefined ? undefined : number('concurrency', 1, 32),
    check: parsed.check,
    snapshot: parsed.snapshot,
    save: !parsed['no-save'],
  };
}

function progress(message) {
  process.stderr.write(`[bench:push] ${message}\n`);
}

function thousands(n) {
  return n.toLocaleString('en-US');
}

function ms(n) {
  return `${(n / 1000).toFixed(1)} s`;
}

function round2(n) {
  return Math.round(n * 100) / 100;
}
