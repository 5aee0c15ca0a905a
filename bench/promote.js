#!/usr/bin/env node
// Promote benchmark: a pooled tenant of --items items (default 100,000), beside a neighbour, is
// promoted to a silo on the local stack by `saasctl tenant promote`, while a writer adds items
// during the copy. Reports the copy rate and the write-freeze window against the targets (freeze
// under 5% of the total and under 10 s), checks both copies' digests, and saves the figures.
// Needs a current build (`npm run build`): it runs bin/run.js and imports dist/. See bench/README.md.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'run.js');
const REGION = 'us-east-1';
const TENANT = 'bench';
const NEIGHBOUR = 'neighbour';

const USAGE = `Usage: node bench/promote.js [options]   (npm run bench:promote -- [options])

  --items N        items of the promoted tenant (default 100000)
  --item-bytes N   size of each item (default 256)
  --neighbour N    items of a neighbour tenant in the same pooled table (default 10000)
  --writes N       items a writer adds while the copy runs (default 2000; 0 for none)
  --one-shot       no running stack: the promote command owns the stack in its own process
  --check          exit 1 when a target is missed (default: report only)
  --no-save        do not write bench/results/promote-<date>.json
  -h, --help       this text`;

const { values: flags } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    'item-bytes': { type: 'string', default: '256' },
    neighbour: { type: 'string', default: '10000' },
    writes: { type: 'string', default: '2000' },
    'one-shot': { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    'no-save': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const options = {
  items: Number(flags.items),
  itemBytes: Number(flags['item-bytes']),
  neighbour: Number(flags.neighbour),
  writes: Number(flags.writes),
  oneShot: flags['one-shot'],
};

const scratch = await mkdtemp(path.join(os.tmpdir(), 'saasctl-bench-promote-'));
const home = path.join(scratch, 'home');
const env = {
  ...process.env,
  SAASCTL_HOME: home,
  SAASCTL_TARGET: 'local',
  SAASCTL_STAGE: 'local',
  AWS_REGION: REGION,
  NO_COLOR: '1',
};

/** Runs the CLI; resolves with its exit code, stdout, stderr and wall time. */
function cli(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

async function must(args) {
  const outcome = await cli([...args, '--json']);
  if (outcome.code !== 0) {
    throw new Error(
      `saasctl ${args.join(' ')} exited ${outcome.code}:\n${outcome.stdout}\n${outcome.stderr}`,
    );
  }
  return { ...outcome, json: JSON.parse(outcome.stdout) };
}

const dist = (p) => import(path.join(ROOT, 'dist', p));

/** Clients of the running stack (stack.json), for the checks and to watch the migration. */
async function stackClients() {
  const { readStack, localClients } = await dist('lib/local/stack.js');
  const info = await readStack(home);
  if (!info) throw new Error('no running stack');
  return { clients: localClients(info.endpoints, REGION), platform: info.platform };
}

async function tenantItems(client, table, tenantId) {
  const { parallelScan, freshCursors } = await dist('lib/tenants/migration-copy.js');
  const { digestOf } = await dist('lib/tenants/migration-digest.js');
  const items = [];
  await parallelScan(
    { client, table },
    tenantId,
    freshCursors(4),
    async (_s, page) => void items.push(...page),
  );
  return digestOf(items);
}

const thousands = (n) => Math.round(n).toLocaleString('en-US');
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

let stackStarted = false;
async function cleanup() {
  if (stackStarted) await cli(['local', 'stop']).catch(() => undefined);
  await rm(scratch, { recursive: true, force: true });
}
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  const started = performance.now();
  // A running stack for seeding and the checks; --one-shot stops it around the promotion.
  await must(['local', 'start', '--detach']);
  stackStarted = true;
  for (const id of [TENANT, NEIGHBOUR]) {
    await must(['tenant', 'onboard', id, '--tier', 'pro', '--name', id, '--admin-email', `ops@${id}.test`]);
  }
  const seed = await must([
    'tenant',
    'seed',
    TENANT,
    '--items',
    String(options.items),
    '--item-bytes',
    String(options.itemBytes),
  ]);
  await must([
    'tenant',
    'seed',
    NEIGHBOUR,
    '--items',
    String(options.neighbour),
    '--item-bytes',
    String(options.itemBytes),
  ]);
  console.error(
    `seeded ${thousands(options.items)} + ${thousands(options.neighbour)} items (${thousands(seed.json.itemsPerSecond)} items/s)`,
  );

  let { clients, platform } = await stackClients();
  const neighbourBefore = await tenantItems(clients.dynamodb(), platform.tables.pooled, NEIGHBOUR);
  if (options.oneShot) {
    clients.destroy();
    await must(['local', 'stop']);
    stackStarted = false;
  }

  // The promotion, and a writer that starts once the copy does (watched on the catalog).
  const promoteStarted = performance.now();
  const promotion = cli(['tenant', 'promote', TENANT, '--to', 'enterprise', '--yes', '--json']);
  let writer = Promise.resolve(undefined);
  if (options.writes > 0) {
    writer = (async () => {
      const { MigrationStore } = await dist('lib/tenants/migration-state.js');
      const { readStack, localClients } = await dist('lib/local/stack.js');
      for (;;) {
        const info = await readStack(home);
        if (info) {
          const watch = localClients(info.endpoints, REGION);
          try {
            const state = await new MigrationStore(watch.documents(), info.platform.tables.controlPlane).get(
              TENANT,
            );
            if (state?.phase === 'COPYING') break;
            if (state && !['STARTED', 'PROVISIONED'].includes(state.phase)) return { late: true };
          } catch {
            // The stack may be starting or stopping (one-shot): look again.
          } finally {
            watch.destroy();
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const seeded = await must([
        'tenant',
        'seed',
        TENANT,
        '--items',
        String(options.writes),
        '--from',
        String(options.items),
        '--item-bytes',
        String(options.itemBytes),
      ]);
      return seeded.json;
    })();
  }
  const [outcome, written] = await Promise.all([promotion, writer]);
  const promoteWallMs = performance.now() - promoteStarted;
  if (outcome.code !== 0)
    throw new Error(`promote exited ${outcome.code}:\n${outcome.stdout}\n${outcome.stderr}`);
  const result = JSON.parse(outcome.stdout);

  if (options.oneShot) {
    await must(['local', 'start', '--detach']);
    stackStarted = true;
  }
  ({ clients, platform } = await stackClients());
  const silo = await tenantItems(clients.dynamodb(), result.plan.to.table, TENANT);
  const pooled = await tenantItems(clients.dynamodb(), platform.tables.pooled, TENANT);
  const neighbourAfter = await tenantItems(clients.dynamodb(), platform.tables.pooled, NEIGHBOUR);
  clients.destroy();

  const cleanupRun = await must(['tenant', 'promote', TENANT, '--resume', '--cleanup-now', '--yes']);
  const totalMs = result.timings.totalMs;
  const freezeMs = result.timings.freezeMs;
  const expectedItems = options.items + (written && !written.late ? written.items : 0);
  const checks = [
    ['copies equal (count and digest)', silo.count === pooled.count && silo.digest === pooled.digest],
    ['digest reported = digest of the silo table', result.digests.source === silo.digest],
    [`every item there (${thousands(expectedItems)})`, silo.count === expectedItems],
    [
      'writes during the copy journaled',
      !written || written.late ? options.writes === 0 : written.journaled === options.writes,
    ],
    ['neighbour untouched', neighbourAfter.digest === neighbourBefore.digest],
    ['old copy deleted by cleanup', cleanupRun.json.counts.cleanedUp === expectedItems],
  ];
  const targets = [
    ['freeze < 5% of total', freezeMs / totalMs < 0.05, `${((freezeMs / totalMs) * 100).toFixed(2)}%`],
    ['freeze < 10 s', freezeMs < 10_000, seconds(freezeMs)],
  ];

  const rows = [
    [
      'mode',
      options.oneShot ? 'one-shot (the command owns the stack)' : 'running stack (local start --detach)',
    ],
    [
      'items',
      `${thousands(options.items)} × ~${options.itemBytes} B, ${thousands(result.plan.partitions)} partitions; neighbour ${thousands(options.neighbour)}`,
    ],
    ['written during the copy', written?.late ? 'none (copy ended first)' : thousands(written?.items ?? 0)],
    ['plan (count the source)', seconds(result.timings.planMs)],
    ['provision (key, table)', seconds(result.timings.provisionMs)],
    ['copy', `${seconds(result.timings.copyMs)} (${thousands(result.timings.copyItemsPerSecond)} items/s)`],
    ['verify + catch-up before the freeze', seconds(result.timings.verifyMs)],
    ['write freeze', seconds(freezeMs)],
    ['promote total (command)', `${seconds(totalMs)} (process wall ${seconds(promoteWallMs)})`],
    ['cleanup (delete the pooled copies)', seconds(cleanupRun.json.timings.cleanupMs)],
    ['caught up in the freeze or before', thousands(result.counts.replayed)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
  console.log('');
  for (const [name, pass] of checks) console.log(`${pass ? 'ok  ' : 'FAIL'} ${name}`);
  for (const [name, pass, value] of targets) console.log(`${pass ? 'PASS' : 'MISS'} ${name}: ${value}`);
  console.log(`bench took ${seconds(performance.now() - started)}`);

  if (!flags['no-save']) {
    const dir = path.join(ROOT, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `promote-${new Date().toISOString().slice(0, 10)}.json`);
    const load = os.loadavg();
    await writeFile(
      file,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: { cpus: os.cpus().length, node: process.version, loadavg: load },
          options,
          promote: {
            timings: result.timings,
            counts: result.counts,
            digests: result.digests,
            plan: result.plan,
          },
          promoteWallMs,
          writer: written,
          cleanup: cleanupRun.json.timings,
          checks: Object.fromEntries(checks),
          targets: Object.fromEntries(targets.map(([name, pass, value]) => [name, { pass, value }])),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`saved ${path.relative(ROOT, file)}`);
  }
  const failed = checks.some(([, pass]) => !pass);
  const missed = targets.some(([, pass]) => !pass);
  await cleanup();
  process.exit(failed || (flags.check && missed) ? 1 : 0);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  await cleanup();
  process.exit(1);
}
