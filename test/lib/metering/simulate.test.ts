import { createHash } from 'node:crypto';

import { expect } from 'chai';

import { ExitCode, type SaasctlError } from '../../../src/lib/cli/errors.js';
import { CollectingReporter } from '../../../src/lib/cli/reporter.js';
import { assertBatchId } from '../../../src/lib/metering/counters.js';
import { validateEvent } from '../../../src/lib/metering/events.js';
import { latestArrival, parseLakeObjectKey } from '../../../src/lib/metering/lake-layout.js';
import { MetricRegistry } from '../../../src/lib/metering/metrics.js';
import {
  lineBytes,
  MAX_LATE_MS,
  MIN_LATE_MS,
  Simulation,
  simulatedTenantId,
  simulationSettings,
  SIMULATED_BUFFER_MS,
  type PlanInput,
  type PlannedObject,
  type SimulateRequest,
} from '../../../src/lib/metering/simulate.js';
import { runSimulate } from '../../../src/lib/metering/run-simulate.js';
import type { UsageEvent } from '../../../src/lib/metering/types.js';
import type { Platform } from '../../../src/lib/platform/platform.js';
import { rejectionOf } from '../helpers/aws.js';

const NOW = new Date('2026-11-27T20:41:07.000Z');
const registry = new MetricRegistry();
const tenants = (n: number) => Array.from({ length: n }, (_, i) => simulatedTenantId(i + 1));

function plan(request: Partial<SimulateRequest> = {}, extra: Partial<PlanInput> = {}): Simulation {
  const settings = simulationSettings(
    {
      tenants: 20,
      events: 5000,
      from: '2026-11-01T00:00:00Z',
      to: '2026-11-08T00:00:00Z',
      duplicateRate: 0.05,
      lateRate: 0.05,
      malformedRate: 0.05,
      ...request,
    },
    NOW,
  );
  return new Simulation({
    ...settings,
    tenantIds: tenants(settings.tenants),
    stream: 'saasctl-local-usage',
    ...extra,
  });
}

function thrown(fn: () => unknown): SaasctlError {
  try {
    fn();
  } catch (err) {
    return err as SaasctlError;
  }
  throw new Error('expected an error');
}

/** A digest of everything a plan writes, in order. */
function fingerprint(simulation: Simulation): string {
  const hash = createHash('sha256');
  for (const object of simulation.objects()) hash.update(JSON.stringify(object));
  return hash.digest('hex');
}

describe('metering simulate: the plan', () => {
  describe('simulationSettings', () => {
    const valid: SimulateRequest = { tenants: 5, events: 100, days: 2 };

    it('defaults to seed 1 and modest rates, and --days ends at the start of the current hour', () => {
      const settings = simulationSettings(valid, NOW);
      expect(settings.seed).to.equal(1);
      expect(settings.to.toISOString()).to.equal('2026-11-27T20:00:00.000Z');
      expect(settings.from.toISOString()).to.equal('2026-11-25T20:00:00.000Z');
      expect(settings.clockEnd.toISOString()).to.equal('2026-11-27T20:00:00.000Z');
      for (const rate of [settings.duplicateRate, settings.lateRate, settings.malformedRate]) {
        expect(rate).to.be.greaterThan(0).and.at.most(0.05);
      }
    });

    it('lets a period that ended long ago arrive up to 20 h late, and one that just ended only until now', () => {
      const old = simulationSettings(
        { ...valid, days: undefined, from: '2026-11-01', to: '2026-11-02' },
        NOW,
      );
      expect(old.clockEnd.toISOString()).to.equal('2026-11-02T20:00:00.000Z');
      const recent = simulationSettings(
        { ...valid, days: undefined, from: '2026-11-27T00:00:00Z', to: '2026-11-27T12:00:00Z' },
        NOW,
      );
      expect(recent.clockEnd.toISOString()).to.equal('2026-11-27T20:00:00.000Z');
    });

    const refused: [string, Partial<SimulateRequest>, string, string][] = [
      ['no tenants', { tenants: 0 }, 'INVALID_TENANT_COUNT', 'from 1 to 10,000'],
      ['too many tenants', { tenants: 10_001 }, 'INVALID_TENANT_COUNT', 'from 1 to 10,000'],
      ['a fraction of a tenant', { tenants: 1.5 }, 'INVALID_TENANT_COUNT', 'whole number'],
      ['no events', { events: 0 }, 'INVALID_EVENT_COUNT', 'from 1 to 50,000,000'],
      ['too many events', { events: 50_000_001 }, 'INVALID_EVENT_COUNT', 'from 1 to 50,000,000'],
      ['a rate above 0.5', { duplicateRate: '0.6' }, 'INVALID_RATE', 'from 0 to 0.5'],
      ['a negative rate', { lateRate: -0.1 }, 'INVALID_RATE', 'from 0 to 0.5'],
      ['a rate that is not a number', { malformedRate: 'lots' }, 'INVALID_RATE', '--malformed-rate'],
      ['an empty rate', { malformedRate: ' ' }, 'INVALID_RATE', '--malformed-rate'],
      ['a negative seed', { seed: -1 }, 'INVALID_SEED', 'whole number'],
      ['--days 0', { days: 0 }, 'INVALID_DAYS', 'from 1 to 92'],
      ['--days 93', { days: 93 }, 'INVALID_DAYS', 'from 1 to 92'],
      ['--days and --from', { from: '2026-11-01' }, 'PERIOD_CONFLICT', 'not both'],
      ['no period', { days: undefined }, 'PERIOD_REQUIRED', '--days D, or --from and --to'],
      ['--from alone', { days: undefined, from: '2026-11-01' }, 'PERIOD_REQUIRED', '--from and --to'],
      [
        'a time with an offset',
        { days: undefined, from: '2026-11-01T00:00:00+01:00', to: '2026-11-02' },
        'INVALID_TIMESTAMP',
        'ISO 8601 UTC',
      ],
      [
        'a date that does not exist',
        { days: undefined, from: '2026-02-30', to: '2026-03-02' },
        'INVALID_TIMESTAMP',
        '--from',
      ],
      [
        '--to before --from',
        { days: undefined, from: '2026-11-02', to: '2026-11-01' },
        'INVALID_PERIOD',
        'before',
      ],
      [
        '--to in the future',
        { days: undefined, from: '2026-11-27', to: '2026-11-27T21:00:00Z' },
        'PERIOD_IN_FUTURE',
        'in the future',
      ],
      [
        'more than 92 days',
        { days: undefined, from: '2026-08-01', to: '2026-11-02' },
        'PERIOD_TOO_LONG',
        'at most 92 days',
      ],
    ];
    for (const [what, change, code, rule] of refused) {
      it(`refuses ${what} with a usage error naming the rule`, () => {
        const error = thrown(() => simulationSettings({ ...valid, ...change }, NOW));
        expect(error.code).to.equal(code);
        expect(error.exitCode).to.equal(ExitCode.usage);
        expect(error.message).to.include(rule);
      });
    }
  });

  describe('determinism', () => {
    it('makes the same plan from the same seed, and another from another seed', () => {
      const a = fingerprint(plan({ seed: 7 }));
      expect(fingerprint(plan({ seed: 7 }))).to.equal(a);
      expect(fingerprint(plan({ seed: 8 }))).to.not.equal(a);
    });

    it('makes another plan (other ids and keys) when anything else it depends on changes', () => {
      const base = plan({ seed: 7 });
      for (const other of [plan({ seed: 7, events: 5001 }), plan({ seed: 7, lateRate: 0.04 })]) {
        expect(other.runId).to.not.equal(base.runId);
      }
      const [first] = plan({ seed: 7 }).objects();
      const [firstOther] = plan({ seed: 7, events: 5001 }).objects();
      expect(firstOther.key).to.not.equal(first.key);
      expect(firstOther.batch?.id).to.not.equal(first.batch?.id);
    });

    it('gives the same summary however often the objects are read', () => {
      const simulation = plan();
      const read = () => {
        for (const _object of simulation.objects());
        return simulation.summary();
      };
      expect(read()).to.deep.equal(read());
    });
  });

  describe('a large sample', function () {
    this.timeout(60_000);
    const events = 200_000;
    const rates = { duplicateRate: 0.1, lateRate: 0.05, malformedRate: 0.02 };
    const simulation = plan({ tenants: 100, events, ...rates, seed: 3 });
    const objects: PlannedObject[] = [];
    before(() => {
      for (const object of simulation.objects()) objects.push(object);
    });

    it('has the rates asked for, within 5 %', () => {
      const summary = simulation.summary();
      expect(summary.events).to.equal(events);
      expect(summary.valid + summary.malformed).to.equal(events);
      expect(summary.malformed / events).to.be.closeTo(rates.malformedRate, rates.malformedRate * 0.05);
      expect(summary.late / events).to.be.closeTo(rates.lateRate, rates.lateRate * 0.05);
      expect(summary.duplicates / summary.valid).to.be.closeTo(
        rates.duplicateRate,
        rates.duplicateRate * 0.05,
      );
    });

    it('mixes the metrics like real traffic: mostly api.call, some doc.processed, a little storage.gb', () => {
      const byMetric = new Map<string, number>();
      for (const object of objects) {
        for (const event of object.batch?.events ?? []) {
          byMetric.set(event.metric, (byMetric.get(event.metric) ?? 0) + 1);
        }
      }
      const valid = simulation.summary().valid;
      expect((byMetric.get('api.call') ?? 0) / valid).to.be.closeTo(0.8, 0.01);
      expect((byMetric.get('doc.processed') ?? 0) / valid).to.be.closeTo(0.15, 0.01);
      expect((byMetric.get('storage.gb') ?? 0) / valid).to.be.closeTo(0.05, 0.01);
    });

    it('is skewed: a few heavy tenants and a long tail, the heaviest reported', () => {
      const perTenant = new Map<string, number>();
      for (const object of objects) {
        for (const event of object.batch?.events ?? []) {
          perTenant.set(event.tenantId, (perTenant.get(event.tenantId) ?? 0) + 1);
        }
      }
      const counts = [...perTenant.values()].sort((a, b) => b - a);
      const median = counts[Math.floor(counts.length / 2)];
      expect(counts[0]).to.be.greaterThan(20 * median);
      expect(counts[0] / simulation.summary().valid).to.be.greaterThan(0.15);
      const heavy = simulation.summary().heavyTenants;
      expect(heavy).to.have.length(5);
      expect(heavy.map((t) => t.events)).to.deep.equal(counts.slice(0, 5));
      for (const { tenantId, events: count } of heavy) expect(perTenant.get(tenantId)).to.equal(count);
    });

    it('keeps every malformed line failing validation and every other line passing it, as reconcile reads them', () => {
      let failing = 0;
      let quarantined = 0;
      for (const object of objects) {
        // Reconcile validates against the latest arrival the object's key allows.
        const now = new Date(latestArrival(parseLakeObjectKey(object.key)!.arrival));
        const refused = object.lines.filter((line) => !validateEvent(line, registry, now).ok);
        failing += refused.length;
        quarantined += object.quarantine?.lines.length ?? 0;
        expect(object.quarantine?.lines.map((q) => q.record) ?? []).to.deep.equal(
          refused.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))),
        );
      }
      expect(failing).to.equal(simulation.summary().malformed);
      expect(quarantined).to.equal(failing);
    });

    it('makes malformed records of every kind', () => {
      const reasons = objects.flatMap((o) => o.quarantine?.lines.map((q) => q.reason.split(':')[0]) ?? []);
      expect(new Set(reasons)).to.deep.equal(new Set(['not JSON', 'eventId', 'metric', 'quantity', 'ts']));
    });

    it('gives every event its own id: an id appears twice only for a duplicate', () => {
      const seen = new Map<string, number>();
      for (const object of objects) {
        for (const line of object.lines) {
          if (!validateEvent(line, registry, NOW).ok) continue;
          const { eventId } = line as UsageEvent;
          seen.set(eventId, (seen.get(eventId) ?? 0) + 1);
        }
      }
      const twice = [...seen.values()].filter((n) => n === 2).length;
      expect(twice).to.equal(simulation.summary().duplicates);
      expect([...seen.values()].every((n) => n <= 2)).to.equal(true);
    });

    it('puts a duplicate in the same object as its original or the next one', () => {
      let previous = new Set<string>();
      for (const object of objects) {
        const current = new Set((object.batch?.events ?? []).map((e) => e.eventId));
        const counts = new Map<string, number>();
        for (const line of object.lines) {
          if (!validateEvent(line, registry, NOW).ok) continue;
          const { eventId } = line as UsageEvent;
          counts.set(eventId, (counts.get(eventId) ?? 0) + 1);
        }
        let copies = 0;
        for (const [id, n] of counts) {
          if (n === 2) expect(current.has(id), id).to.equal(true);
          if (!current.has(id)) expect(previous.has(id), id).to.equal(true);
          copies += current.has(id) ? n - 1 : n;
        }
        expect(copies).to.equal(object.duplicates);
        expect(object.lines.length - object.records).to.equal(object.duplicates);
        previous = current;
      }
    });

    it('makes Firehose object keys from the arrival of each object, one key per object', () => {
      const keys = new Set<string>();
      for (const object of objects) {
        const parsed = parseLakeObjectKey(object.key);
        expect(parsed, object.key).to.not.equal(undefined);
        expect(parsed!.stream).to.equal('saasctl-local-usage');
        expect(parsed!.uuid).to.equal(object.uuid);
        expect(parsed!.arrival.getTime()).to.equal(Math.floor(object.arrival.getTime() / 1000) * 1000);
        keys.add(object.key);
      }
      expect(keys.size).to.equal(objects.length);
      const arrivals = objects.map((o) => o.arrival.getTime());
      expect(arrivals).to.deep.equal([...arrivals].sort((a, b) => a - b));
    });

    it('makes one batch per object with valid events, with a valid id, and redelivers only batches already delivered', () => {
      const delivered = new Set<string>();
      let valid = 0;
      for (const object of objects) {
        if (object.batch) {
          assertBatchId(object.batch.id);
          expect(delivered.has(object.batch.id)).to.equal(false);
          delivered.add(object.batch.id);
          valid += object.batch.events.length;
        }
        for (const batch of object.redeliveries) expect(delivered.has(batch.id), batch.id).to.equal(true);
        expect(object.redeliveries.length > 0).to.equal(object.duplicates > 0);
      }
      expect(valid).to.equal(simulation.summary().valid);
      expect(delivered.size).to.equal(simulation.summary().batches);
    });
  });

  describe('arrivals', () => {
    it('delivers on time within seconds, late ones 1 to 20 hours after their ts, in arrival order', () => {
      const simulation = plan({ events: 20_000, lateRate: 0.3 });
      let previous = 0;
      let late = 0;
      for (const record of simulation.records()) {
        const arrival = record.arrival.getTime();
        const lag = arrival - Date.parse(record.event.ts);
        expect(arrival).to.be.at.least(previous);
        previous = arrival;
        if (record.late) {
          late++;
          expect(lag).to.be.at.least(MIN_LATE_MS).and.at.most(MAX_LATE_MS);
        } else {
          expect(lag).to.be.greaterThan(0).and.at.most(10_000);
        }
      }
      expect(late / 20_000).to.be.closeTo(0.3, 0.02);
    });

    it('never lets anything arrive after now: an event too recent to be late is on time', () => {
      const settings = simulationSettings({ tenants: 3, events: 3000, days: 1, lateRate: 0.5 }, NOW);
      const simulation = new Simulation({ ...settings, tenantIds: tenants(3), stream: 'usage' });
      const end = settings.clockEnd.getTime();
      let early = 0;
      let late = 0;
      for (const record of simulation.records()) {
        expect(record.arrival.getTime()).to.be.at.most(end);
        if (Date.parse(record.event.ts) > end - MIN_LATE_MS) {
          expect(record.late).to.equal(false);
        } else {
          early++;
          if (record.late) late++;
        }
      }
      expect(late / early).to.be.closeTo(0.5, 0.05);
      for (const object of simulation.objects())
        expect(object.arrival.getTime()).to.be.at.most(NOW.getTime());
    });

    it('keeps every record of an object within the buffering interval of its first', () => {
      const simulation = plan({ events: 20_000 });
      const records = [...simulation.records()];
      let i = 0;
      for (const object of simulation.objects()) {
        for (let n = 0; n < object.records; n++, i++) {
          const arrival = records[i].arrival.getTime();
          expect(arrival - object.arrival.getTime())
            .to.be.at.least(0)
            .and.lessThan(SIMULATED_BUFFER_MS);
        }
      }
      expect(i).to.equal(records.length);
    });

    it('closes an object at its size limit', () => {
      const simulation = plan({ events: 5000, duplicateRate: 0 }, { maxObjectBytes: 2000 });
      for (const object of simulation.objects()) {
        const size = object.lines.reduce<number>((sum, line) => sum + JSON.stringify(line).length + 1, 0);
        expect(size).to.be.at.most(2000);
      }
    });
  });

  describe('lineBytes', () => {
    it('is the length of the NDJSON line, newline included', () => {
      const event: UsageEvent = {
        eventId: 'sim-1-abcdef01-42',
        tenantId: 'sim-001',
        metric: 'storage.gb',
        quantity: 12.345,
        ts: '2026-11-27T10:15:00.123Z',
      };
      expect(lineBytes(event)).to.equal(Buffer.byteLength(JSON.stringify(event)) + 1);
    });
  });

  it('spreads the heaviest rank over different tenants with different seeds', () => {
    const heaviest = new Set<string>();
    for (let seed = 1; seed <= 6; seed++) {
      const simulation = plan({ seed, events: 2000 });
      for (const _object of simulation.objects());
      heaviest.add(simulation.summary().heavyTenants[0].tenantId);
    }
    expect(heaviest.size).to.be.greaterThan(1);
  });

  it('refuses to plan without tenants', () => {
    const settings = simulationSettings({ tenants: 1, events: 10, days: 1 }, NOW);
    expect(thrown(() => new Simulation({ ...settings, tenantIds: [], stream: 'usage' })).code).to.equal(
      'NO_TENANTS',
    );
  });

  it('onboards sim-001 to sim-999, then sim-1000', () => {
    expect([1, 42, 999, 1000].map(simulatedTenantId)).to.deep.equal([
      'sim-001',
      'sim-042',
      'sim-999',
      'sim-1000',
    ]);
  });
});

describe('runSimulate', () => {
  it('refuses any target but local before writing anything', async () => {
    let closed = false;
    const platform = {
      target: { name: 'aws', stage: 'prod', region: 'us-east-1' },
      // Any use of the config or clients would throw: nothing may be read or written.
      get config(): never {
        throw new Error('config read');
      },
      get clients(): never {
        throw new Error('clients used');
      },
      actor: async () => 'arn:aws:iam::123456789012:user/ops',
      close: async () => {
        closed = true;
      },
    } as unknown as Platform;
    const error = await rejectionOf(
      runSimulate(async () => platform, { tenants: 2, events: 10, days: 1 }, new CollectingReporter()),
    );
    expect(error).to.include({ code: 'SIMULATE_LOCAL_ONLY', exitCode: ExitCode.usage });
    expect(closed).to.equal(false);
  });
});
