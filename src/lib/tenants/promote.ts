import { ExitCode, notFound, SaasctlError, conflict, usageError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import { scheduleTenantKeyDeletion } from '../keys/tenant-key.js';
import type { Platform } from '../platform/platform.js';
import { DEFAULT_KEY_DELETION_DAYS } from '../workflow/offboarding.js';
import { onboardingWorkflow, type OnboardingServices } from '../workflow/onboarding.js';
import { runWorkflow } from '../workflow/runner.js';
import { Limiter, realSleep, type RetryOptions, type Sleep } from './batch.js';
import type { TenantCatalog } from './catalog.js';
import { catalogs, onboardDependencies, tenantClients } from './context.js';
import type { PlatformSource } from './lifecycle.js';
import { copyTenantItems, deleteTenantItems, freshCursors, type TableRef } from './migration-copy.js';
import { itemKey, keyId } from './migration-digest.js';
import { buildPlan, countSource, placements, PROVISION_STEPS, type MigrationPlan } from './migration-plan.js';
import {
  IN_FLIGHT_PHASES,
  MigrationJournal,
  MigrationStore,
  newMigrationId,
  type JournalEntry,
  type MigrationDirection,
  type MigrationPhase,
  type MigrationState,
  type Placement,
  type VerifyReport,
} from './migration-state.js';
import {
  differences,
  replayKeys,
  SideSnapshot,
  snapshotSide,
  unexplained,
  verifyReport,
} from './migration-verify.js';
import { assertReason, assertTenantId, type Tenant } from './model.js';
import { deleteTenantTable } from './silo-table.js';
import { isTenantPartition, settleMs } from './tenant-data.js';
import { isPooled } from './tiers.js';

/**
 * Promote (pool to silo) and demote (silo to pool) a tenant with its data, losing no write:
 * plan, provision (the silo onboarding steps), copy (parallel scan, batched writes, cursors
 * checkpointed), verify the copies against each other, freeze (MIGRATING) and catch up what
 * was written during the copy (from the journal that writers keep while a migration copies),
 * verify again, cut over (one conditional catalog write), and after a grace period delete the
 * old copy. Every step is checkpointed on the tenant's record: a killed run is carried on by
 * the next one.
 */

/** Where `SAASCTL_TEST_CRASH_AT` may kill a run (after the named step's checkpoint). */
export const CRASH_POINTS = [
  'provision',
  'copy',
  'copied',
  'freeze',
  'verify',
  'cutover',
  'cleanup',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export const DEFAULT_GRACE_HOURS = 24;
export const MAX_GRACE_HOURS = 720;
export const DEFAULT_SEGMENTS = 4;
export const DEFAULT_CONCURRENCY = 8;

export interface MigrationRequestInput {
  readonly tenantId: string;
  readonly direction: MigrationDirection;
  readonly toTier?: string;
  readonly resume?: boolean;
  readonly dryRun?: boolean;
  readonly cleanupNow?: boolean;
  readonly graceHours?: number;
  readonly reason?: string;
}

export interface MigrationRequest {
  readonly tenantId: string;
  readonly direction: MigrationDirection;
  readonly toTier?: string;
  readonly resume: boolean;
  readonly dryRun: boolean;
  readonly cleanupNow: boolean;
  readonly graceHours: number;
  readonly reason?: string;
}

/** Checks the request before anything is opened or written (exit 2 on bad input). */
export function validateMigrationRequest(input: MigrationRequestInput): MigrationRequest {
  const tenantId = assertTenantId(input.tenantId);
  if (!input.toTier && !input.resume) {
    throw usageError(
      'TARGET_TIER_REQUIRED',
      `Name the tier to ${input.direction} to with --to, or pass --resume to carry on a migration in flight.`,
    );
  }
  const graceHours = input.graceHours ?? DEFAULT_GRACE_HOURS;
  if (!Number.isInteger(graceHours) || graceHours < 0 || graceHours > MAX_GRACE_HOURS) {
    throw usageError(
      'INVALID_GRACE_HOURS',
      `Invalid grace period ${graceHours}: the old copy is kept 0-${MAX_GRACE_HOURS} whole hours after cutover.`,
    );
  }
  return {
    tenantId,
    direction: input.direction,
    ...(input.toTier ? { toTier: input.toTier } : {}),
    resume: Boolean(input.resume),
    dryRun: Boolean(input.dryRun),
    cleanupNow: Boolean(input.cleanupNow),
    graceHours,
    ...(input.reason === undefined ? {} : { reason: assertReason(input.reason) }),
  };
}

export interface MigrationOptions {
  /** Asked before anything is written; rejects to refuse. */
  readonly confirm: (question: string) => Promise<void>;
  /** Called at each crash point (the test switch kills the process there). */
  readonly checkpoint?: (point: CrashPoint) => void;
  readonly segments?: number;
  /** Batch requests in flight at once, across segments. */
  readonly concurrency?: number;
  /** Wait for in-flight writes after switching the journal on and after freezing. */
  readonly settleMs?: number;
  readonly sleep?: Sleep;
  readonly now?: () => Date;
  readonly retry?: RetryOptions;
}

export type MigrationOutcome =
  'planned' | 'in-flight' | 'migrated' | 'already-there' | 'cleanup-scheduled' | 'cleaned-up';

export interface MigrationResult {
  readonly tenantId: string;
  readonly direction: MigrationDirection;
  readonly outcome: MigrationOutcome;
  /** False when nothing was written (a plan, already there, a cleanup not yet due). */
  readonly changed: boolean;
  readonly migrationId?: string;
  readonly phase?: MigrationPhase;
  /** The phase a killed run had reached, when this run carried it on. */
  readonly resumedFrom?: MigrationPhase;
  readonly plan?: MigrationPlan;
  readonly counts?: {
    readonly planned: number;
    readonly copied: number;
    readonly cleared: number;
    readonly replayed: number;
    readonly sourceItems?: number;
    readonly targetItems?: number;
    readonly cleanedUp?: number;
  };
  readonly digests?: { readonly source: string; readonly target: string };
  readonly timings?: {
    readonly totalMs: number;
    /** Counting the source for the plan (this run). */
    readonly planMs?: number;
    readonly provisionMs?: number;
    readonly copyMs?: number;
    readonly copyItemsPerSecond?: number;
    readonly verifyMs?: number;
    readonly freezeMs?: number;
    readonly cleanupMs?: number;
  };
  readonly cleanup?: {
    readonly status: 'done' | 'scheduled';
    readonly deletes: string;
    readonly after?: string;
    readonly at?: string;
  };
  readonly tenant: Tenant;
}

export async function migrateTenant(
  open: PlatformSource,
  input: MigrationRequestInput,
  reporter: Reporter,
  options: MigrationOptions,
): Promise<MigrationResult> {
  const request = validateMigrationRequest(input);
  const platform = await open();
  return new MigrationRun(platform, request, reporter, options).execute();
}

/** Saves checkpoints one after another, each with the latest state, on the state's `rev`. */
class Checkpointer {
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly store: MigrationStore,
    private readonly tenantId: string,
    private current: MigrationState,
  ) {}

  get state(): MigrationState {
    return this.current;
  }

  async save(change: (state: MigrationState) => MigrationState): Promise<MigrationState> {
    this.current = change(this.current);
    this.dirty = true;
    const run = this.saving.then(() => this.flush());
    this.saving = run.catch(() => undefined);
    await run;
    return this.current;
  }

  private async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const saved = await this.store.save(this.tenantId, this.current);
    this.current = { ...this.current, rev: saved.rev };
  }
}

function elapsed(from?: string, to?: string): number | undefined {
  return from && to ? Date.parse(to) - Date.parse(from) : undefined;
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function progressBar(done: number, total: number): string {
  const width = 24;
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

class MigrationRun {
  private readonly catalog: TenantCatalog;
  private readonly store: MigrationStore;
  private readonly journal: MigrationJournal;
  private readonly limiter: Limiter;
  private readonly segments: number;
  private readonly settle: number;
  private readonly sleep: Sleep;
  private readonly now: () => Date;
  private readonly started = Date.now();
  private actorName?: string;
  private planMs?: number;
  private verifyMs?: number;
  /** Hashes of the source items as this run's copy read them (a whole copy only). */
  private copiedSource?: SideSnapshot;
  private cleanupMs?: number;

  constructor(
    private readonly platform: Platform,
    private readonly request: MigrationRequest,
    private readonly reporter: Reporter,
    private readonly options: MigrationOptions,
  ) {
    const { config, clients } = platform;
    this.catalog = catalogs(platform).catalog;
    this.store = new MigrationStore(clients.documents(), config.tables.controlPlane);
    this.journal = new MigrationJournal(clients.documents(), config.tables.controlPlane, options.retry);
    this.limiter = new Limiter(options.concurrency ?? DEFAULT_CONCURRENCY);
    this.segments = options.segments ?? DEFAULT_SEGMENTS;
    this.settle = options.settleMs ?? settleMs(platform.target.name);
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? (() => new Date());
  }

  async execute(): Promise<MigrationResult> {
    const { request } = this;
    const tenant = await this.catalog.require(request.tenantId);
    const state = await this.store.get(request.tenantId);

    if (state && IN_FLIGHT_PHASES.includes(state.phase)) {
      this.assertSameMigration(state);
      if (request.dryRun) return this.result('in-flight', false, state, tenant);
      await this.options.confirm(
        `Resume the ${state.direction} of ${tenant.tenantId} to ${state.to.tier} (stopped at ${state.phase})? Its writes are refused during the freeze (about ${this.freezeEstimate()} s).`,
      );
      return this.carryOn(state, state.phase);
    }
    if (state?.phase === 'CUT_OVER' && this.continuesWith(state)) {
      return this.cleanupWhenDue(state, tenant);
    }
    if (request.resume) {
      throw notFound(
        'NO_MIGRATION_IN_FLIGHT',
        `Tenant "${tenant.tenantId}" has no ${request.direction} to resume${state ? ` (the last one is ${state.phase})` : ''}.`,
        [`Start one with \`saasctl tenant ${request.direction} ${tenant.tenantId} --to <tier>\`.`],
      );
    }
    const { tiers } = catalogs(this.platform);
    const target = await tiers.require(request.toTier as string);
    if (tenant.tier === target.name && tenant.isolation === target.isolation) {
      return this.result('already-there', false, undefined, tenant);
    }
    const { config } = this.platform;
    const { from, to } = placements(tenant, target, request.direction, {
      stage: config.stage,
      region: config.region,
      pooledTable: config.tables.pooled,
    });
    const step = this.reporter.step(`plan: count ${tenant.tenantId}'s items in ${from.table}`);
    const planStarted = Date.now();
    const counts = await countSource(this.ref(from), tenant.tenantId, this.segments);
    this.planMs = Date.now() - planStarted;
    step.done(`${formatCount(counts.items)} items, ${formatBytes(counts.bytes)}`);
    const plan = buildPlan({
      tenantId: tenant.tenantId,
      direction: request.direction,
      from,
      to,
      counts,
      segments: this.segments,
      target: this.platform.target.name,
      settleMs: this.settle,
      graceHours: request.graceHours,
    });
    if (request.dryRun) return { ...this.result('planned', false, undefined, tenant), plan };

    await this.options.confirm(
      `${request.direction === 'promote' ? 'Promote' : 'Demote'} ${tenant.tenantId} from ${from.tier} (${from.isolation}) to ${to.tier} (${to.isolation}): copy ${formatCount(plan.items)} items (${formatBytes(plan.bytes)}) to ${to.table}, then refuse its writes for about ${plan.estimates.freezeSeconds} s while the copies are verified and the catalog is switched?`,
    );
    const at = this.now().toISOString();
    const fresh: MigrationState = {
      id: newMigrationId(),
      rev: 0,
      direction: request.direction,
      phase: 'STARTED',
      from,
      to,
      actor: await this.actor(),
      ...(request.reason ? { reason: request.reason } : {}),
      plan,
      segments: freshCursors(this.segments),
      // Only an aborted attempt or a superseded cleanup leaves the tenant's items in a target
      // (writers write where the catalog points); should anything else, verify reports it.
      clearTarget: state !== undefined && state.phase !== 'DONE',
      graceHours: request.graceHours,
      times: { startedAt: at },
    };
    // A cleanup still pending from the last migration is superseded: its old copy is this
    // migration's target, which is cleared before the copy.
    const started = await this.store.start(tenant.tenantId, fresh, state);
    if (state?.phase === 'CUT_OVER') {
      this.reporter.info(
        `The pending cleanup of migration ${state.id} is superseded by this ${request.direction}.`,
      );
    }
    return this.carryOn(started);
  }

  /** A re-run without --to, or naming the same move, continues a migration. */
  private continuesWith(state: MigrationState): boolean {
    const { request } = this;
    if (request.direction !== state.direction) return false;
    return !request.toTier || request.toTier === state.to.tier;
  }

  private assertSameMigration(state: MigrationState): void {
    if (!this.continuesWith(state)) {
      throw conflict(
        'MIGRATION_IN_FLIGHT',
        `Tenant "${this.request.tenantId}" has a ${state.direction} to ${state.to.tier} in flight (${state.phase}); finish it first.`,
        [`Carry it on with \`saasctl tenant ${state.direction} ${this.request.tenantId} --resume\`.`],
      );
    }
  }

  private freezeEstimate(): number {
    return Math.round((this.settle / 1000 + 0.5) * 10) / 10;
  }

  private async actor(): Promise<string> {
    this.actorName ??= await this.platform.actor();
    return this.actorName;
  }

  /** The table on one side, with the client of its region (and account). */
  private ref(placement: Placement): TableRef {
    const client = isPooled(placement.isolation)
      ? this.platform.clients.dynamodb()
      : tenantClients(this.platform, placement.region, placement.accountId).dynamodb();
    return { client, table: placement.table };
  }

  private crash(point: CrashPoint): void {
    this.options.checkpoint?.(point);
  }

  private async carryOn(state: MigrationState, resumedFrom?: MigrationPhase): Promise<MigrationResult> {
    const cp = new Checkpointer(this.store, this.request.tenantId, state);
    if (cp.state.phase === 'STARTED') {
      await this.provision(cp);
      this.crash('provision');
    }
    if (cp.state.phase === 'PROVISIONED' || cp.state.phase === 'COPYING') {
      await this.copy(cp);
      this.crash('copied');
    }
    let tenant = await this.catalog.require(this.request.tenantId);
    if (!this.cutOver(tenant, cp.state)) {
      await this.verifyAndCutOver(cp, tenant);
      tenant = await this.catalog.require(this.request.tenantId);
    }
    await cp.save((s) => ({
      ...s,
      phase: 'CUT_OVER',
      times: { ...s.times, cutoverAt: s.times.cutoverAt ?? this.now().toISOString() },
      cleanupAfter: new Date(
        Date.parse(s.times.cutoverAt ?? this.now().toISOString()) + s.graceHours * 3_600_000,
      ).toISOString(),
    }));
    await this.journal.clear(cp.state.id);
    const result = await this.cleanupWhenDue(cp.state, tenant, false);
    return { ...result, changed: true, outcome: 'migrated', ...(resumedFrom ? { resumedFrom } : {}) };
  }

  /** Whether the catalog already points at the target (a run killed right after the cutover). */
  private cutOver(tenant: Tenant, state: MigrationState): boolean {
    return (
      tenant.status === 'ACTIVE' && tenant.tier === state.to.tier && tenant.isolation === state.to.isolation
    );
  }

  /** The silo onboarding steps (promote), then a target with none of the tenant's items. */
  private async provision(cp: Checkpointer): Promise<void> {
    const { state } = cp;
    let to = state.to;
    if (state.direction === 'promote') {
      const deps = onboardDependencies(this.platform);
      const services: OnboardingServices = { ...deps, actor: await this.actor() };
      const tenant = await this.catalog.require(this.request.tenantId);
      await runWorkflow(
        {
          ...onboardingWorkflow,
          steps: onboardingWorkflow.steps.filter((s) => PROVISION_STEPS.includes(s.name)),
        },
        {
          tenantId: tenant.tenantId,
          tier: state.to.tier,
          isolation: state.to.isolation,
          name: tenant.name,
          adminEmail: tenant.adminEmail,
          region: tenant.region,
          stage: this.platform.config.stage,
        },
        services,
        // The tenant's onboarding record (`tenant status`) stays as it was; the checkpoint tracks this.
        { record: async () => undefined },
        this.reporter,
        deps.runOptions,
      );
      const provisioned = await this.catalog.require(this.request.tenantId);
      to = { ...to, ...(provisioned.accountId ? { accountId: provisioned.accountId } : {}) };
    }
    let cleared = 0;
    if (state.clearTarget) {
      const step = this.reporter.step(`clear ${this.request.tenantId}'s leftover items in ${to.table}`);
      cleared = await deleteTenantItems(
        this.ref(to),
        this.request.tenantId,
        this.segments,
        this.limiter,
        undefined,
        this.options.retry,
      );
      if (cleared > 0) step.done(`${formatCount(cleared)} deleted (left by an earlier attempt)`);
      else step.skipped('none');
    }
    await cp.save((s) => ({
      ...s,
      phase: 'PROVISIONED',
      to,
      cleared,
      times: { ...s.times, provisionedAt: this.now().toISOString() },
    }));
  }

  /** Journal on, settle, then the parallel copy with a checkpoint per page. */
  private async copy(cp: Checkpointer): Promise<void> {
    if (cp.state.phase === 'PROVISIONED') {
      await cp.save((s) => ({
        ...s,
        phase: 'COPYING',
        segments: freshCursors(this.segments),
        times: { ...s.times, copyStartedAt: this.now().toISOString() },
      }));
      // Writers that read the status before the journal was on have written by now.
      await this.sleep(this.settle);
    }
    const { state } = cp;
    // A copy this run makes whole also hashes the source items as it reads them, sparing verify
    // a second read of the source. A resumed copy has lost the hashes of its first pages.
    const sourceHashes = state.segments.every((c) => !c.done && !c.startKey) ? new SideSnapshot() : undefined;
    const step = this.reporter.step(
      `copy ${state.from.table} → ${state.to.table} (${state.segments.length} segments)`,
    );
    const startedAt = Date.now();
    const already = state.segments.reduce((n, s) => n + s.items, 0);
    let copied = already;
    let pages = 0;
    const report = (done = false) => {
      const total = Math.max(state.plan.items, copied);
      const seconds = (Date.now() - startedAt) / 1000;
      const rate = seconds > 0 ? Math.round((copied - already) / seconds) : 0;
      this.reporter.progress?.(
        `copy ${progressBar(copied, total)} ${formatCount(copied)}/${formatCount(total)} items ${formatCount(rate)} items/s`,
        done,
      );
    };
    await copyTenantItems(
      this.ref(state.from),
      this.ref(state.to),
      this.request.tenantId,
      state.segments,
      this.limiter,
      {
        onWritten: (count) => {
          copied += count;
          report();
        },
        onPageCopied: async (segment, cursor, items) => {
          if (sourceHashes) for (const item of items) sourceHashes.set(keyId(itemKey(item)), item);
          await cp.save((s) => ({ ...s, segments: s.segments.map((c, i) => (i === segment ? cursor : c)) }));
          if (items.length > 0 && ++pages === 1) this.crash('copy');
        },
      },
      this.options.retry,
    );
    report(true);
    await cp.save((s) => ({
      ...s,
      phase: 'COPIED',
      times: { ...s.times, copiedAt: this.now().toISOString() },
    }));
    this.copiedSource = sourceHashes;
    step.done(`${formatCount(cp.state.segments.reduce((n, s) => n + s.items, 0))} items`);
  }

  private async snapshots(cp: Checkpointer): Promise<{ source: SideSnapshot; target: SideSnapshot }> {
    const { state } = cp;
    const copied = this.copiedSource;
    const step = this.reporter.step(copied ? 'read the copy for verify' : 'read both copies for verify');
    const perSide = Math.max(
      state.plan.items,
      state.segments.reduce((n, s) => n + s.items, 0),
    );
    const total = (copied ? 1 : 2) * perSide;
    let read = 0;
    const seen = (count: number) => {
      read += count;
      this.reporter.progress?.(
        `verify ${progressBar(read, total)} ${formatCount(read)}/${formatCount(total)} items read`,
      );
    };
    const [source, target] = await Promise.all([
      copied ?? snapshotSide(this.ref(state.from), this.request.tenantId, this.segments, seen),
      snapshotSide(this.ref(state.to), this.request.tenantId, this.segments, seen),
    ]);
    this.reporter.progress?.(`verify ${progressBar(read, read)} ${formatCount(read)} items read`, true);
    step.done(`${formatCount(source.count)} and ${formatCount(target.count)} items`);
    return { source, target };
  }

  /** Replays journal entries not handled yet, remembering the nonce of each it handles. */
  private async replay(
    cp: Checkpointer,
    entries: readonly JournalEntry[],
    handled: Map<string, string>,
    snapshots: { source: SideSnapshot; target: SideSnapshot },
  ): Promise<number> {
    const unreplayed = entries.filter((e) => handled.get(keyId(e.key)) !== e.nonce);
    if (unreplayed.length === 0) return 0;
    const own = unreplayed.filter((e) => isTenantPartition(this.request.tenantId, e.key.PK));
    if (own.length < unreplayed.length) {
      this.reporter.warn(
        `${unreplayed.length - own.length} journal entries named another tenant's keys; ignored.`,
      );
    }
    const { state } = cp;
    await replayKeys(
      own.map((e) => e.key),
      this.ref(state.from),
      this.ref(state.to),
      snapshots,
      this.limiter,
      this.options.retry,
    );
    for (const e of unreplayed) handled.set(keyId(e.key), e.nonce);
    await cp.save((s) => ({ ...s, replayed: (s.replayed ?? 0) + own.length }));
    return own.length;
  }

  /**
   * Verify, freeze, catch up, verify again, cut over. Unfrozen: read both sides, and abort if
   * they differ where the journal does not say a writer changed something; replay the journal.
   * Frozen: replay what was written since, compare counts and digests, flip the catalog.
   */
  private async verifyAndCutOver(cp: Checkpointer, tenant: Tenant): Promise<void> {
    const verifyStarted = Date.now();
    const id = cp.state.id;
    const wasFrozen = tenant.status === 'MIGRATING';
    // Resumed in the freeze: writes decided before it have landed before the reads.
    if (wasFrozen) await this.sleep(this.settle);
    const snapshots = await this.snapshots(cp);
    const journal = await this.journal.entries(id);
    const strays = unexplained(differences(snapshots.source, snapshots.target), journal);
    if (strays.length > 0) {
      await this.abort(
        cp,
        verifyReport(
          snapshots.source,
          snapshots.target,
          `${strays.length} items differ between the copies and no write during the copy explains it: ${strays
            .slice(0, 3)
            .map((d) => `${d.PK} ${d.SK} (${d.kind})`)
            .join(', ')}${strays.length > 3 ? ', …' : ''}`,
        ),
        wasFrozen,
      );
    }
    const handled = new Map<string, string>();
    if (!wasFrozen) {
      await this.sleep(this.settle);
      const step = this.reporter.step('catch up writes made during the copy');
      const replayed = await this.replay(cp, journal, handled, snapshots);
      step.done(`${formatCount(replayed)} items`);
      this.verifyMs = Date.now() - verifyStarted;
      const frozenAt = this.now().toISOString();
      await this.catalog.transition(this.request.tenantId, 'MIGRATING', {
        action: `${cp.state.direction}-freeze`,
        from: ['ACTIVE'],
        actor: await this.actor(),
        reason: `${cp.state.direction} to ${cp.state.to.tier}: writes refused until cutover`,
      });
      await cp.save((s) => ({ ...s, phase: 'FROZEN', times: { ...s.times, frozenAt } }));
    } else if (cp.state.phase !== 'FROZEN') {
      const frozenAt = this.now().toISOString();
      await cp.save((s) => ({ ...s, phase: 'FROZEN', times: { ...s.times, frozenAt } }));
    }
    this.crash('freeze');

    const freeze = this.reporter.step(
      `freeze ${this.request.tenantId} (MIGRATING): catch up, verify, cut over`,
    );
    await this.sleep(this.settle);
    await this.replay(cp, await this.journal.entries(id), handled, snapshots);
    const report = verifyReport(snapshots.source, snapshots.target);
    if (!report.equal) await this.abort(cp, report, true);
    await cp.save((s) => ({ ...s, verify: report }));
    this.crash('verify');

    const { to, direction } = cp.state;
    const current = await this.catalog.require(this.request.tenantId);
    await this.catalog.relocate(
      this.request.tenantId,
      direction === 'promote'
        ? { tier: to.tier, isolation: to.isolation, dataTable: to.table, keyArn: current.keyArn }
        : { tier: to.tier, isolation: to.isolation, dataTable: undefined, keyArn: undefined },
      {
        action: direction,
        actor: await this.actor(),
        reason: this.request.reason ?? `${direction} to ${to.tier}: ${report.sourceItems} items verified`,
      },
    );
    const cutoverAt = this.now().toISOString();
    this.crash('cutover');
    await cp.save((s) => ({ ...s, times: { ...s.times, cutoverAt } }));
    freeze.done(`${formatCount(report.sourceItems)} items, digest ${report.sourceDigest.slice(0, 12)}…`);
  }

  /** Unfreezes (when frozen), records the report, and fails with exit 5. The tenant stays where it was. */
  private async abort(cp: Checkpointer, report: VerifyReport, frozen: boolean): Promise<never> {
    const { direction, from, id } = cp.state;
    if (frozen) {
      await this.catalog.transition(this.request.tenantId, 'ACTIVE', {
        action: `${direction}-abort`,
        from: ['MIGRATING'],
        actor: await this.actor(),
        reason: `verify failed: ${report.reason ?? 'the copies differ'}`.slice(0, 512),
      });
    }
    await cp.save((s) => ({
      ...s,
      phase: 'ABORTED',
      verify: report,
      times: { ...s.times, abortedAt: this.now().toISOString() },
    }));
    await this.journal.clear(id);
    throw new SaasctlError(
      'MIGRATION_VERIFY_FAILED',
      `Verify failed, so the ${direction} of ${this.request.tenantId} was aborted before cutover: ${report.reason ?? 'the copies differ'}. The tenant stays ${from.tier} (${from.isolation}) and ACTIVE, its data where it was.`,
      {
        exitCode: ExitCode.drift,
        details: { migrationId: id, report },
        actions: [
          `Re-run \`saasctl tenant ${direction} ${this.request.tenantId} --to ${cp.state.to.tier}\` to start over: the target copy is cleared first.`,
        ],
      },
    );
  }

  /** After cutover: deletes the old copy now (--cleanup-now, grace 0, or due), or says when. */
  private async cleanupWhenDue(state: MigrationState, tenant: Tenant, ask = true): Promise<MigrationResult> {
    const due =
      this.request.cleanupNow ||
      state.graceHours === 0 ||
      (state.cleanupAfter !== undefined && Date.parse(state.cleanupAfter) <= this.now().getTime());
    if (!due || this.request.dryRun) return this.result('cleanup-scheduled', false, state, tenant);
    if (ask) {
      await this.options.confirm(
        `Delete the old copy of ${tenant.tenantId}'s data (${this.deletes(state)})?`,
      );
    }
    const cp = new Checkpointer(this.store, tenant.tenantId, state);
    const started = Date.now();
    const cleanedItems = await this.cleanup(cp.state);
    this.cleanupMs = Date.now() - started;
    await cp.save((s) => ({
      ...s,
      phase: 'DONE',
      ...(cleanedItems === undefined ? {} : { cleanedItems }),
      times: { ...s.times, cleanedAt: this.now().toISOString() },
    }));
    await this.catalog.recordEvent(tenant.tenantId, {
      action: `${state.direction}-cleanup`,
      actor: await this.actor(),
      reason: `deleted ${this.deletes(state)}`,
    });
    return this.result('cleaned-up', true, cp.state, await this.catalog.require(tenant.tenantId));
  }

  private deletes(state: MigrationState): string {
    return state.direction === 'promote'
      ? `its pooled items in ${state.from.table}`
      : `table ${state.from.table}, and its key scheduled for deletion`;
  }

  /** Deletes the old copy; returns the pooled items deleted (promote). Idempotent. */
  private async cleanup(state: MigrationState): Promise<number | undefined> {
    const step = this.reporter.step(`cleanup: ${this.deletes(state)}`);
    if (state.direction === 'promote') {
      let deleted = 0;
      const count = await deleteTenantItems(
        this.ref(state.from),
        this.request.tenantId,
        this.segments,
        this.limiter,
        (n) => {
          deleted += n;
          this.reporter.progress?.(`cleanup ${formatCount(deleted)} pooled items deleted`);
          if (deleted === n) this.crash('cleanup');
        },
        this.options.retry,
      );
      this.reporter.progress?.(`cleanup ${formatCount(count)} pooled items deleted`, true);
      step.done(`${formatCount(count)} items`);
      return count;
    }
    const clients = tenantClients(this.platform, state.from.region, state.from.accountId);
    const deleted = await deleteTenantTable(
      clients.dynamodb(),
      this.platform.config.stage,
      this.request.tenantId,
    );
    this.crash('cleanup');
    const key = await scheduleTenantKeyDeletion(
      clients.kms(),
      this.platform.config.stage,
      this.request.tenantId,
      DEFAULT_KEY_DELETION_DAYS,
    );
    step.done(
      `table ${deleted ? 'deleted' : 'already gone'}; key ${key.deletionDate ? `deleted on ${key.deletionDate}` : 'already gone'}`,
    );
    return undefined;
  }

  private result(
    outcome: MigrationOutcome,
    changed: boolean,
    state: MigrationState | undefined,
    tenant: Tenant,
  ): MigrationResult {
    const base = {
      tenantId: tenant.tenantId,
      direction: state?.direction ?? this.request.direction,
      outcome,
      changed,
      tenant,
    };
    if (!state) return { ...base, timings: { totalMs: Date.now() - this.started, planMs: this.planMs } };
    const { times } = state;
    const copied = state.segments.reduce((n, s) => n + s.items, 0);
    const copyMs = elapsed(times.copyStartedAt, times.copiedAt);
    return {
      ...base,
      migrationId: state.id,
      phase: state.phase,
      plan: state.plan,
      counts: {
        planned: state.plan.items,
        copied,
        cleared: state.cleared ?? 0,
        replayed: state.replayed ?? 0,
        ...(state.verify
          ? { sourceItems: state.verify.sourceItems, targetItems: state.verify.targetItems }
          : {}),
        ...(state.cleanedItems === undefined ? {} : { cleanedUp: state.cleanedItems }),
      },
      ...(state.verify
        ? { digests: { source: state.verify.sourceDigest, target: state.verify.targetDigest } }
        : {}),
      timings: {
        totalMs: Date.now() - this.started,
        planMs: this.planMs,
        provisionMs: elapsed(times.startedAt, times.provisionedAt),
        copyMs,
        copyItemsPerSecond: copyMs ? Math.round(copied / (copyMs / 1000)) : undefined,
        verifyMs: this.verifyMs,
        freezeMs: elapsed(times.frozenAt, times.cutoverAt),
        cleanupMs: this.cleanupMs,
      },
      ...(state.phase === 'CUT_OVER' || state.phase === 'DONE'
        ? {
            cleanup: {
              status: state.phase === 'DONE' ? ('done' as const) : ('scheduled' as const),
              deletes: this.deletes(state),
              ...(state.phase === 'CUT_OVER' && state.cleanupAfter ? { after: state.cleanupAfter } : {}),
              ...(times.cleanedAt ? { at: times.cleanedAt } : {}),
            },
          }
        : {}),
    };
  }
}
