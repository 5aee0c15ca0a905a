import { expect } from 'chai';

import { ExitCode } from '../../../src/lib/cli/errors.js';
import {
  combine,
  DEFAULT_METRICS,
  MAX_METRIC_NAME_LENGTH,
  metricNameProblem,
  MetricRegistry,
} from '../../../src/lib/metering/metrics.js';
import type { Aggregation, MetricDefinition } from '../../../src/lib/metering/types.js';
import { thrownBy } from '../helpers/aws.js';

const seats: MetricDefinition = {
  name: 'seat.active',
  unit: 'seats',
  aggregation: 'max',
  description: 'Active seats, sampled.',
};

describe('metric registry', () => {
  describe('default metrics', () => {
    const expected: { name: string; unit: string; aggregation: Aggregation }[] = [
      { name: 'api.call', unit: 'calls', aggregation: 'sum' },
      { name: 'doc.processed', unit: 'documents', aggregation: 'sum' },
      { name: 'storage.gb', unit: 'GB', aggregation: 'max' },
    ];
    for (const { name, unit, aggregation } of expected) {
      it(`knows ${name} in ${unit}, aggregated by ${aggregation}`, () => {
        const definition = new MetricRegistry().get(name);
        expect(definition).to.include({ name, unit, aggregation });
        expect(definition?.description).to.be.a('string').and.not.be.empty;
      });
    }

    it('lists exactly the defaults when no extra metric is given', () => {
      expect(new MetricRegistry().list().map((m) => m.name)).to.deep.equal([
        'api.call',
        'doc.processed',
        'storage.gb',
      ]);
      expect(DEFAULT_METRICS.map((m) => m.name)).to.deep.equal(['api.call', 'doc.processed', 'storage.gb']);
    });
  });

  describe('lookups', () => {
    it('returns undefined from get for an unknown metric, including names on Object.prototype', () => {
      const registry = new MetricRegistry();
      expect(registry.get('api.calls')).to.equal(undefined);
      expect(registry.get('constructor')).to.equal(undefined);
      expect(registry.get('__proto__')).to.equal(undefined);
    });

    it('refuses an unknown metric in require with UNKNOWN_METRIC, exit 2, listing the known ones', () => {
      const err = thrownBy(() => new MetricRegistry([seats]).require('api.calls'));
      expect(err.code).to.equal('UNKNOWN_METRIC');
      expect(err.exitCode).to.equal(ExitCode.usage);
      expect(err.message).to.equal(
        'Unknown metric "api.calls": known metrics are api.call, doc.processed, storage.gb, seat.active.',
      );
      expect(err.actions).to.have.length.greaterThan(0);
    });

    it('returns the definition from require for a known metric', () => {
      expect(new MetricRegistry().require('storage.gb').aggregation).to.equal('max');
    });

    it('hands out copies from list, so callers cannot change the registry', () => {
      const registry = new MetricRegistry();
      const listed = registry.list() as MetricDefinition[];
      listed.pop();
      expect(registry.list()).to.have.length(3);
      expect(() => {
        (registry.get('api.call') as { aggregation: Aggregation }).aggregation = 'max';
      }).to.throw(TypeError);
      expect(registry.get('api.call')?.aggregation).to.equal('sum');
    });
  });

  describe('extra metrics', () => {
    it('adds extra metrics after the defaults, in the order given', () => {
      const registry = new MetricRegistry([seats, { ...seats, name: 'seat.guest', aggregation: 'sum' }]);
      expect(registry.list().map((m) => m.name)).to.deep.equal([
        'api.call',
        'doc.processed',
        'storage.gb',
        'seat.active',
        'seat.guest',
      ]);
      expect(registry.require('seat.active')).to.deep.equal(seats);
    });

    it('accepts a restated default with the same unit and aggregation', () => {
      const registry = new MetricRegistry([{ ...DEFAULT_METRICS[0], description: 'Reworded.' }]);
      expect(registry.list()).to.have.length(3);
      expect(registry.get('api.call')?.description).to.equal(DEFAULT_METRICS[0].description);
    });

    it('refuses to redefine a metric with another aggregation or unit, since that changes billing', () => {
      for (const change of [{ aggregation: 'max' as const }, { unit: 'requests' }]) {
        const err = thrownBy(() => new MetricRegistry([{ ...DEFAULT_METRICS[0], ...change }]));
        expect(err.code).to.equal('INVALID_METRIC');
        expect(err.exitCode).to.equal(ExitCode.usage);
        expect(err.message).to.include('"api.call": it is already defined as sum of calls');
      }
    });

    it('refuses a definition with an empty unit', () => {
      const err = thrownBy(() => new MetricRegistry([{ ...seats, unit: ' ' }]));
      expect(err.code).to.equal('INVALID_METRIC');
      expect(err.message).to.include('its unit is empty');
    });

    it('refuses an aggregation other than sum or max (definitions come from configuration)', () => {
      const avg = { ...seats, aggregation: 'avg' } as unknown as MetricDefinition;
      const err = thrownBy(() => new MetricRegistry([avg]));
      expect(err.code).to.equal('INVALID_METRIC');
      expect(err.message).to.include('its aggregation is "avg" (sum or max)');
    });
  });

  describe('metric name rule', () => {
    const valid = [
      'seat.active',
      'a.b',
      'api.v2',
      'doc.ocr.page',
      `a.${'b'.repeat(MAX_METRIC_NAME_LENGTH - 2)}`,
    ];
    for (const name of valid) {
      it(`accepts "${name.length > 20 ? `${name.slice(0, 12)}... (${name.length} chars)` : name}"`, () => {
        expect(metricNameProblem(name)).to.equal(undefined);
        expect(new MetricRegistry([{ ...seats, name }]).get(name)?.name).to.equal(name);
      });
    }

    const invalid: { name: string; why: string; problem: string }[] = [
      { name: '', why: 'that is empty', problem: 'it is empty' },
      {
        name: `a.${'b'.repeat(MAX_METRIC_NAME_LENGTH - 1)}`,
        why: 'of 65 characters',
        problem: 'it is 65 characters long (at most 64)',
      },
      { name: 'apicall', why: 'without a dot', problem: 'at least one dot' },
      { name: 'Api.call', why: 'with uppercase', problem: 'lowercase parts' },
      { name: 'api.', why: 'ending in a dot', problem: 'lowercase parts' },
      { name: '.api', why: 'starting with a dot', problem: 'lowercase parts' },
      { name: 'api..call', why: 'with an empty part', problem: 'lowercase parts' },
      { name: 'api.2call', why: 'with a part starting with a digit', problem: 'starting with a letter' },
      { name: 'api_call.x', why: 'with an underscore', problem: 'lowercase parts' },
      { name: 'api.call#2026', why: 'with a key separator', problem: 'lowercase parts' },
      { name: 'api.call ', why: 'with a trailing space', problem: 'lowercase parts' },
    ];
    for (const { name, why, problem } of invalid) {
      it(`refuses a name ${why}`, () => {
        expect(metricNameProblem(name)).to.include(problem);
        const err = thrownBy(() => new MetricRegistry([{ ...seats, name }]));
        expect(err.code).to.equal('INVALID_METRIC');
        expect(err.exitCode).to.equal(ExitCode.usage);
        expect(err.message).to.include(problem);
      });
    }
  });

  describe('combine', () => {
    const cases: { aggregation: Aggregation; a: number; b: number; result: number }[] = [
      { aggregation: 'sum', a: 3, b: 4, result: 7 },
      { aggregation: 'sum', a: 0, b: 0, result: 0 },
      { aggregation: 'max', a: 3, b: 4, result: 4 },
      { aggregation: 'max', a: 4.5, b: 1.25, result: 4.5 },
      { aggregation: 'max', a: 0, b: 0, result: 0 },
    ];
    for (const { aggregation, a, b, result } of cases) {
      it(`combines ${a} and ${b} by ${aggregation} into ${result}`, () => {
        expect(combine(aggregation, a, b)).to.equal(result);
        expect(combine(aggregation, b, a)).to.equal(result);
      });
    }
  });
});
