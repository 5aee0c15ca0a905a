import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';

/**
 * `saasctl demo`: a guided tour of the mission on the embedded stack. Each step is a real
 * saasctl command, run as an operator would run it (a child process, `--json`), so the tour
 * shows exactly the command that does each thing, and proves it works. Steps read what earlier
 * steps returned (the tenant the margin report flags is the one promoted), and skip what an
 * earlier run already did, so running the tour twice works.
 */
export interface TourStep {
  readonly id: string;
  /** What the step does, for the operator. */
  readonly title: string;
  /** Why it matters, one sentence. */
  readonly explain: string;
  /**
   * The command (the arguments after `saasctl`, without `--json`), from what earlier steps
   * returned; a string instead says why the step is skipped this time.
   */
  readonly command: (results: TourResults) => readonly string[] | string;
  /** Exit codes that mean the step did its job (default: 0). */
  readonly okExitCodes?: readonly number[];
  /** One line from the command's JSON answer. */
  readonly summarize: (json: unknown, results: TourResults) => string;
}

/** Every answer so far, by step id. */
export type TourResults = ReadonlyMap<string, unknown>;

export interface CommandOutcome {
  readonly exitCode: number;
  readonly json: unknown;
  readonly stderr: string;
}

export type StepEvent =
  | {
      readonly kind: 'start';
      readonly index: number;
      readonly total: number;
      readonly step: TourStep;
      readonly argv: readonly string[];
    }
  | {
      readonly kind: 'skip';
      readonly index: number;
      readonly total: number;
      readonly step: TourStep;
      readonly reason: string;
    }
  | {
      readonly kind: 'done';
      readonly index: number;
      readonly step: TourStep;
      readonly summary: string;
      readonly ms: number;
    };

export interface TourReport {
  readonly steps: readonly {
    readonly id: string;
    readonly title: string;
    readonly command?: string;
    readonly skipped?: string;
    readonly exitCode?: number;
    readonly summary?: string;
    readonly ms?: number;
  }[];
}

/** A step failed: the tour stops there, naming the command. */
export class TourStepFailed extends Error {
  constructor(
    readonly step: TourStep,
    readonly argv: readonly string[],
    readonly outcome: CommandOutcome,
  ) {
    super(`Step "${step.title}" failed: saasctl ${argv.join(' ')} exited ${outcome.exitCode}.`);
  }
}

export const DEMO_POOL_TENANT = 'demo-pool';
export const DEMO_SILO_TENANT = 'demo-corp';

/** The month the tour simulates: the last complete one before `now`. */
export function tourMonth(now: Date): { month: string; from: string; to: string } {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 1, 1));
  return { month: from.toISOString().slice(0, 7), from: from.toISOString(), to: to.toISOString() };
}

interface TenantLike {
  readonly tenantId: string;
  readonly tier: string;
  readonly isolation?: string;
  readonly status?: string;
}

/** The tour's steps for a run at `now`. */
export function demoTour(now: Date = new Date()): TourStep[] {
  const { month, from, to } = tourMonth(now);
  const existing = (results: TourResults): TenantLike[] => asArray<TenantLike>(results.get('tenants'));
  const onboard = (tenantId: string, tier: string, name: string, account: string): TourStep => ({
    id: `onboard-${tenantId}`,
    title: `Onboard ${name} on the ${tier} tier`,
    explain:
      tier === 'enterprise'
        ? 'A silo tenant: its own KMS key and table, a Cognito group and admin user, and a Marketplace subscription.'
        : 'A pooled tenant: shared tables, isolated by tenant-scoped credentials; billed through AWS Marketplace.',
    command: (results) =>
      existing(results).some((t) => t.tenantId === tenantId)
        ? `${tenantId} is already onboarded`
        : [
            'tenant',
            'onboard',
            tenantId,
            '--tier',
            tier,
            '--name',
            name,
            '--admin-email',
            `ops@${tenantId}.example.com`,
            '--marketplace-account-id',
            account,
            '--license-arn',
            `arn:aws:license-manager::${account}:license:l-${createHash('md5').update(tenantId).digest('hex')}`,
          ],
    summarize: (json) => {
      const tenant = pick<TenantLike>(json, 'tenant') ?? (json as TenantLike);
      return `${tenant.tenantId}: ${tenant.status ?? 'onboarded'} on ${tenant.tier}`;
    },
  });

  return [
    {
      id: 'tenants',
      title: 'See who is onboarded already',
      explain: 'The catalog is the control plane: every tenant, its tier, status and where its data lives.',
      command: () => ['tenant', 'list'],
      summarize: (json) => `${asArray(json).length} tenants in the catalog`,
    },
    onboard(DEMO_POOL_TENANT, 'pro', 'Demo Pool', '111111111111'),
    onboard(DEMO_SILO_TENANT, 'enterprise', 'Demo Corp', '222222222222'),
    {
      id: 'simulate',
      title: `Simulate ${month}: a few heavy tenants and a long tail`,
      explain:
        'Writes the raw lake and the usage counters as Firehose and the aggregator would have, duplicates, late and malformed events included.',
      command: () => [
        'metering',
        'simulate',
        '--tenants',
        '10',
        '--events',
        '6000',
        '--from',
        from,
        '--to',
        to,
        '--seed',
        '42',
      ],
      summarize: (json) => {
        const heavy = asArray<{ tenantId: string; events: number }>(pick(json, 'heavyTenants'))[0];
        return `${String(pick(json, 'events'))} events, ${String(pick(json, 'duplicates'))} duplicates, ${String(pick(json, 'malformed'))} malformed; heaviest: ${heavy ? `${heavy.tenantId} (${heavy.events} events)` : 'none'}`;
      },
    },
    {
      id: 'reconcile',
      title: `Reconcile ${month}: the counters against the raw lake`,
      explain: 'The lake is the billing system of record; any drift exits 5 in CI, and --fix repairs it.',
      command: () => ['metering', 'reconcile', '--month', month],
      summarize: (json) =>
        `${String(pick(json, 'events'))} distinct events, ${asArray(pick(json, 'drift')).length} counters drifted`,
    },
    {
      id: 'push',
      title: 'Bill the usage to AWS Marketplace, exactly once',
      explain:
        'A ledger record is written before each BatchMeterUsage call, so a crash never bills twice nor loses a unit; usage older than 6 hours is carried forward.',
      command: () => ['metering', 'push', '--since', from],
      // 6: some records were refused (tenants without a subscription are reported, not billed).
      okExitCodes: [0, 6],
      summarize: (json) => {
        const totals = pick<Record<string, number>>(json, 'totals') ?? {};
        const carried = asArray(pick(json, 'carried')).length;
        return `${totals.records ?? 0} records sent in ${String(pick(json, 'calls') ?? 0)} calls, ${totals.unitsAccepted ?? 0} units accepted; ${carried} hours past the 6-hour window carried forward`;
      },
    },
    {
      id: 'margin',
      title: `Margin per tenant for ${month}`,
      explain:
        'Revenue against cost to serve: the heavy tenant on a flat plan shows up with a negative margin.',
      command: () => ['report', 'margin', '--month', month, '--format', 'json'],
      summarize: (json) => {
        const flagged = asArray<FlaggedRow>(pick(json, 'tenants')).filter((row) => row.flagged);
        const worst = flagged[0];
        return worst
          ? `${flagged.length} flagged; worst: ${worst.tenantId} loses ${Math.round(-worst.margin)} USD a month on ${worst.tier}. ${worst.recommendation?.summary ?? ''}`
          : 'no tenant loses money';
      },
    },
    {
      id: 'promote',
      title: 'Promote the flagged tenant to a silo, with its data',
      explain: 'Copy, verify by digest, a short write freeze, then one conditional cutover: no write lost.',
      command: (results) => {
        // The simulation's heaviest tenant, when the report flags it while it is still pooled.
        const heaviest = asArray<{ tenantId: string }>(pick(results.get('simulate'), 'heavyTenants'))[0];
        const row = asArray<FlaggedRow>(pick(results.get('margin'), 'tenants')).find(
          (r) => r.tenantId === heaviest?.tenantId,
        );
        if (!row?.flagged) return 'the heaviest tenant is not flagged';
        if (row.isolation !== 'pool')
          return `${row.tenantId} is a silo tenant already (an earlier run promoted it)`;
        return ['tenant', 'promote', row.tenantId, '--to', 'enterprise', '--yes', '--cleanup-now'];
      },
      summarize: (json) => summaryOf(json, 'promoted'),
    },
    {
      id: 'seed',
      title: `Write application data for ${DEMO_SILO_TENANT}`,
      explain: 'Items in the tenant’s own table, encrypted under its own KMS key.',
      command: () => ['tenant', 'seed', DEMO_SILO_TENANT, '--items', '20'],
      summarize: (json) => summaryOf(json, 'seeded'),
    },
    {
      id: 'kill',
      title: `Pull the kill switch on ${DEMO_SILO_TENANT}`,
      explain:
        'Disabling the tenant’s key makes its data unreadable; the command proves it with a refused data-key request.',
      command: () => ['key', 'disable', DEMO_SILO_TENANT, '--reason', 'demo: the kill switch', '--yes'],
      summarize: keySummary,
    },
    {
      id: 'status',
      title: 'Show the key is disabled',
      explain: 'Anyone can check the switch: key status reads KMS directly.',
      command: () => ['key', 'status', DEMO_SILO_TENANT],
      summarize: keySummary,
    },
    {
      id: 'enable',
      title: `Turn ${DEMO_SILO_TENANT}’s key back on`,
      explain: 'The same switch, reversed and audited: the data is readable again.',
      command: () => ['key', 'enable', DEMO_SILO_TENANT, '--reason', 'demo: restore'],
      summarize: keySummary,
    },
    {
      id: 'audit',
      title: 'Audit tenant isolation, as a security review would',
      explain:
        'Pooled keys, row-level security in PostgreSQL, every tier’s session policy against cross-tenant requests, silo keys: exit 1 if any check fails.',
      command: () => ['audit', 'isolation'],
      summarize: (json) => {
        const summary = pick<Record<string, number>>(json, 'summary') ?? {};
        return `${pick(json, 'passed') ? 'passed' : 'FAILED'}: ${summary.pass ?? 0} checks passed, ${summary.fail ?? 0} failed, ${summary.skip ?? 0} skipped`;
      },
    },
  ];
}

/**
 * Runs the steps in order through `exec` (which runs one saasctl command with `--json`),
 * telling `onEvent` as it goes. Stops at the first step whose exit code is not one it allows.
 */
export async function runTour(
  steps: readonly TourStep[],
  exec: (argv: readonly string[]) => Promise<CommandOutcome>,
  onEvent: (event: StepEvent) => void = () => undefined,
  clock: () => number = Date.now,
): Promise<TourReport> {
  const results = new Map<string, unknown>();
  const report: TourReport['steps'][number][] = [];
  for (const [index, step] of steps.entries()) {
    const command = step.command(results);
    if (typeof command === 'string') {
      onEvent({ kind: 'skip', index, total: steps.length, step, reason: command });
      report.push({ id: step.id, title: step.title, skipped: command });
      continue;
    }
    onEvent({ kind: 'start', index, total: steps.length, step, argv: command });
    const started = clock();
    const outcome = await exec(command);
    if (!(step.okExitCodes ?? [0]).includes(outcome.exitCode))
      throw new TourStepFailed(step, command, outcome);
    results.set(step.id, outcome.json);
    const summary = step.summarize(outcome.json, results);
    const ms = clock() - started;
    onEvent({ kind: 'done', index, step, summary, ms });
    report.push({
      id: step.id,
      title: step.title,
      command: `saasctl ${command.map(quoted).join(' ')}`,
      exitCode: outcome.exitCode,
      summary,
      ms,
    });
  }
  return { steps: report };
}

/**
 * Runs one saasctl command as an operator would: the CLI at `bin` in a child process with
 * `--json`, its answer parsed (undefined when stdout is not JSON).
 */
export function cliRunner(
  bin: string,
  env: NodeJS.ProcessEnv,
): (argv: readonly string[]) => Promise<CommandOutcome> {
  return (argv) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...argv, '--json'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      child.on('error', reject);
      child.on('close', (code) => {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(out).toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ exitCode: code ?? 1, json, stderr: Buffer.concat(err).toString('utf8') });
      });
    });
}

interface FlaggedRow {
  readonly tenantId: string;
  readonly tier: string;
  readonly isolation: string;
  readonly margin: number;
  readonly flagged: boolean;
  readonly recommendation?: { readonly summary: string };
}

/** A key's state, and what the proof request got when the command made one. */
function keySummary(json: unknown): string {
  const probe = pick<{ generateDataKey?: string; error?: string }>(json, 'probe');
  const proof = probe?.generateDataKey
    ? `; a data key request was ${probe.generateDataKey}${probe.error ? ` (${probe.error})` : ''}`
    : '';
  return `${String(pick(json, 'alias'))}: ${String(pick(json, 'keyState'))}${proof}`;
}

/** A short line from an answer whose shape the tour does not depend on: its scalar fields. */
function summaryOf(json: unknown, fallback: string): string {
  if (typeof json !== 'object' || json === null) return fallback;
  const parts = Object.entries(json as Record<string, unknown>)
    .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
    .slice(0, 5)
    .map(([key, value]) => `${key} ${String(value)}`);
  return parts.length > 0 ? parts.join(', ') : fallback;
}

function pick<T>(value: unknown, key: string): T | undefined {
  return typeof value === 'object' && value !== null
    ? ((value as Record<string, unknown>)[key] as T)
    : undefined;
}

function asArray<T>(value: unknown): T[] {
  if (Array.isArray(value)) return value as T[];
  const tenants = pick<unknown>(value, 'tenants');
  return Array.isArray(tenants) ? (tenants as T[]) : [];
}

function quoted(argument: string): string {
  return /^[A-Za-z0-9._:/@=-]+$/.test(argument) ? argument : `'${argument.replace(/'/g, `'\\''`)}'`;
}
