import { conflict, usageError } from '../cli/errors.js';
import { CollectingReporter, type Reporter } from '../cli/reporter.js';
import type { Platform } from '../platform/platform.js';
import { catalogs, onboardDependencies } from '../tenants/context.js';
import type { PlatformSource } from '../tenants/lifecycle.js';
import { onboardTenant } from '../tenants/onboarding.js';
import { isPooled, type Tier } from '../tenants/tiers.js';
import { applyBatch } from './aggregator.js';
import { UsageCounters } from './counters.js';
import { writeLakeObject, writeQuarantineObject } from './lake.js';
import { MetricRegistry } from './metrics.js';
import {
  Simulation,
  simulatedAdminEmail,
  simulatedTenantId,
  simulationSettings,
  type PlannedObject,
  type SimulateRequest,
} from './simulate.js';

/** Lake objects written (and their batches applied) at once: the counter writes are the slow part. */
export const OBJECT_CONCURRENCY = 8;
/** The pooled tiers simulated tenants are onboarded on, in order of preference. */
const SIMULATED_TIERS = ['starter', 'pro'];

export interface SimulateResult {
  readonly tenants: { readonly used: number; readonly onboarded: readonly string[] };
  /** Records the clients sent (valid and malformed), not counting duplicate copies. */
  readonly events: number;
  /** Copies Firehose delivered again: in the lake twice, counted once. */
  readonly duplicates: number;
  readonly late: number;
  readonly malformed: number;
  readonly objects: number;
  readonly batches: number;
  /** Batches applied again under their id (the no-op a redelivery is). */
  readonly redeliveries: number;
  /** Counter updates that changed something: 0 when the same simulation was already written. */
  readonly countersApplied: number;
  readonly period: { readonly from: string; readonly to: string };
  readonly heavyTenants: readonly { readonly tenantId: string; readonly events: number }[];
  readonly seed: number;
}

/**
 * `metering simulate`: plays Firehose and the aggregator Lambda on a simulated clock for a
 * period of realistic usage. Each object is written to the lake (its malformed records also to
 * quarantine), then its batch of valid events is applied to the counters, as the pipeline does;
 * keys and batch ids come from the plan, so running the same simulation again overwrites the
 * same objects and finds every batch already applied.
 */
export async function runSimulate(
  open: PlatformSource,
  request: SimulateRequest,
  reporter: Reporter,
  now: Date = new Date(),
): Promise<SimulateResult> {
  const settings = simulationSettings(request, now);
  const platform = await open();
  if (platform.target.name !== 'local') {
    // Synthetic usage on a real platform would be billed to real tenants: never.
    throw usageError(
      'SIMULATE_LOCAL_ONLY',
      `metering simulate writes synthetic usage and tenants, so it runs on the local target only (not ${platform.target.name}).`,
      ['Run it with --target local (the default).'],
    );
  }
  const { tenantIds, onboarded } = await simulationTenants(platform, settings.tenants, reporter);
  const { config, clients } = platform;
  const simulation = new Simulation({ ...settings, tenantIds, stream: config.usageStream });
  const s3 = clients.s3();
  const counters = new UsageCounters(clients.documents(), config.tables.usage);
  const registry = new MetricRegistry();
  const aggregationOf = (metric: string) => registry.require(metric).aggregation;
  let countersApplied = 0;

  const write = async (object: PlannedObject): Promise<void> => {
    // Written ahead, as the pump does: a run cut short is completed by running it again.
    await writeLakeObject(s3, config.rawLakeBucket, {
      stream: config.usageStream,
      arrival: object.arrival,
      lines: object.lines,
      uuid: object.uuid,
    });
    if (object.quarantine) {
      await writeQuarantineObject(s3, config.rawLakeBucket, {
        arrival: object.arrival,
        lines: object.quarantine.lines,
        uuid: object.quarantine.uuid,
      });
    }
    for (const batch of [...(object.batch ? [object.batch] : []), ...object.redeliveries]) {
      const { applied } = await applyBatch(counters, batch.id, batch.events, aggregationOf);
      countersApplied += applied;
    }
  };

  const step = reporter.step(
    `simulate ${settings.events.toLocaleString('en-US')} events over ${tenantIds.length} tenants`,
  );
  const progress = { records: 0, objects: 0, reported: 0 };
  const inFlight = new Set<Promise<void>>();
  let failure: { readonly error: unknown } | undefined;
  try {
    for (const object of simulation.objects()) {
      const task: Promise<void> = write(object).then(
        () => {
          progress.records += object.records;
          progress.objects++;
          const tenth = Math.floor((progress.records * 10) / settings.events);
          if (tenth > progress.reported && tenth < 10) {
            progress.reported = tenth;
            reporter.info(
              `  ${tenth * 10}%: ${progress.records.toLocaleString('en-US')} events in ${progress.objects.toLocaleString('en-US')} objects`,
            );
          }
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
      if (inFlight.size >= OBJECT_CONCURRENCY) await Promise.race(inFlight);
      if (failure) break;
    }
    await Promise.all(inFlight);
  } catch (error) {
    failure ??= { error };
  }
  if (failure) {
    step.failed();
    throw failure.error;
  }

  const summary = simulation.summary();
  step.done(
    `${summary.objects} objects, ${summary.duplicates} duplicates, ${summary.late} late, ${summary.malformed} malformed`,
  );
  return {
    tenants: { used: tenantIds.length, onboarded },
    events: summary.events,
    duplicates: summary.duplicates,
    late: summary.late,
    malformed: summary.malformed,
    objects: summary.objects,
    batches: summary.batches,
    redeliveries: summary.redeliveries,
    countersApplied,
    period: { from: settings.from.toISOString(), to: settings.to.toISOString() },
    heavyTenants: summary.heavyTenants,
    seed: settings.seed,
  };
}

/**
 * The catalog's ACTIVE tenants (the first `count` by id), topped up with pooled `sim-NNN`
 * tenants onboarded through the onboarding workflow. Ids already in the catalog are skipped,
 * except a simulated tenant whose onboarding was cut short, which is resumed.
 */
async function simulationTenants(
  platform: Platform,
  count: number,
  reporter: Reporter,
): Promise<{ tenantIds: string[]; onboarded: string[] }> {
  const { catalog, tiers } = catalogs(platform);
  const all = await catalog.list();
  const active = all
    .filter((t) => t.status === 'ACTIVE')
    .map((t) => t.tenantId)
    .sort();
  if (active.length >= count) return { tenantIds: active.slice(0, count), onboarded: [] };

  const present = new Map(all.map((t) => [t.tenantId, t]));
  const pooled = pooledTiers(await tiers.list());
  const deps = onboardDependencies(platform);
  const missing = count - active.length;
  const onboarded: string[] = [];
  const step = reporter.step(`onboard ${missing} simulated tenants`);
  try {
    for (let i = 1; onboarded.length < missing; i++) {
      const tenantId = simulatedTenantId(i);
      const adminEmail = simulatedAdminEmail(tenantId);
      const existing = present.get(tenantId);
      const resumable =
        existing?.status === 'PROVISIONING' &&
        existing.adminEmail === adminEmail &&
        pooled.some((tier) => tier.name === existing.tier);
      if (existing && !resumable) continue;
      const quiet = new CollectingReporter();
      await onboardTenant(
        deps,
        {
          tenantId,
          tier: existing?.tier ?? pooled[i % 4 === 0 && pooled.length > 1 ? 1 : 0].name,
          name: existing?.name ?? `Simulated tenant ${tenantId.slice(4)}`,
          adminEmail,
          region: platform.config.region,
        },
        quiet,
      );
      for (const warning of quiet.warnings) reporter.warn(`${tenantId}: ${warning}`);
      onboarded.push(tenantId);
      if (onboarded.length % 25 === 0 && onboarded.length < missing) {
        reporter.info(`  ${onboarded.length} of ${missing} onboarded`);
      }
    }
  } catch (error) {
    step.failed(onboarded.length > 0 ? `${onboarded.length} onboarded before the failure` : undefined);
    throw error;
  }
  step.done(`${onboarded[0]} to ${onboarded[onboarded.length - 1]}`);
  return { tenantIds: [...active, ...onboarded].sort(), onboarded };
}

/** starter, then pro, when the catalog has them; otherwise whatever pooled tiers it has. */
function pooledTiers(tiers: readonly Tier[]): Tier[] {
  const pooled = tiers.filter((tier) => tier.isolation === 'pool');
  const preferred = SIMULATED_TIERS.flatMap((name) => pooled.filter((tier) => tier.name === name));
  const chosen = preferred.length > 0 ? preferred : pooled.filter((tier) => isPooled(tier.isolation));
  if (chosen.length === 0) {
    throw conflict('NO_POOLED_TIER', 'The tier catalog has no pooled tier to onboard simulated tenants on.', [
      'Add a pooled tier (isolation pool), or onboard enough tenants first: simulate uses the ACTIVE ones.',
    ]);
  }
  return chosen;
}
