import { usageError } from '../cli/errors.js';
import type { Aggregation, MetricDefinition } from './types.js';

/**
 * Dotted lowercase names (`api.call`, `storage.gb`): they end up in DynamoDB sort keys
 * (`<metric>#<hour>`), Marketplace dimension mappings and Athena column values, so no `#`,
 * no spaces, no case games.
 */
export const METRIC_NAME_PATTERN = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)+$/;
export const MAX_METRIC_NAME_LENGTH = 64;
export const METRIC_NAME_RULE = `a metric name is at most ${MAX_METRIC_NAME_LENGTH} characters: two or more dot-separated parts, each a lowercase letter followed by lowercase letters or digits (e.g. api.call)`;

const AGGREGATIONS: readonly Aggregation[] = ['sum', 'max'];

export const DEFAULT_METRICS: readonly MetricDefinition[] = Object.freeze([
  Object.freeze({
    name: 'api.call',
    unit: 'calls',
    aggregation: 'sum',
    description: 'API requests served for the tenant.',
  }),
  Object.freeze({
    name: 'doc.processed',
    unit: 'documents',
    aggregation: 'sum',
    description: 'Documents the tenant had processed.',
  }),
  Object.freeze({
    name: 'storage.gb',
    unit: 'GB',
    aggregation: 'max',
    // A stock, not a flow: samples are readings of the same quantity, so summing them would
    // bill the tenant once per sample. The hour's peak is what is billed.
    description: 'Storage the tenant holds, sampled; the peak sample of each hour counts.',
  }),
] satisfies MetricDefinition[]);

/** Why a metric name breaks the rule, or undefined when it follows it. */
export function metricNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_METRIC_NAME_LENGTH) {
    return `it is ${name.length} characters long (at most ${MAX_METRIC_NAME_LENGTH})`;
  }
  if (!METRIC_NAME_PATTERN.test(name)) {
    return 'it must be dot-separated lowercase parts, each starting with a letter, with at least one dot';
  }
  return undefined;
}

/**
 * The metrics saasctl meters: the defaults plus any a tier catalog adds. Definitions are checked
 * when the registry is built, so a bad one fails at load time rather than quarantining every
 * event that uses it.
 */
export class MetricRegistry {
  private readonly byName = new Map<string, MetricDefinition>();

  constructor(extra: readonly MetricDefinition[] = []) {
    for (const definition of [...DEFAULT_METRICS, ...extra]) this.add(definition);
  }

  get(name: string): MetricDefinition | undefined {
    return this.byName.get(name);
  }

  require(name: string): MetricDefinition {
    const definition = this.byName.get(name);
    if (!definition) {
      throw usageError(
        'UNKNOWN_METRIC',
        `Unknown metric "${name}": known metrics are ${this.names().join(', ')}.`,
        ['Use one of the known metrics, or add its definition to the tier catalog.'],
      );
    }
    return definition;
  }

  /** Every definition, defaults first, then the extras in the order given. */
  list(): readonly MetricDefinition[] {
    return [...this.byName.values()];
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  private add(definition: MetricDefinition): void {
    const problem = definitionProblem(definition);
    if (problem) {
      throw usageError(
        'INVALID_METRIC',
        `Invalid metric definition "${String(definition.name)}": ${problem}.`,
        [`Fix the definition: ${METRIC_NAME_RULE}; unit is non-empty; aggregation is sum or max.`],
      );
    }
    const existing = this.byName.get(definition.name);
    if (existing) {
      // Restating a definition is harmless (the first one stays); changing one (say api.call from sum to max) would
      // silently change what tenants are billed, so it is refused.
      if (sameDefinition(existing, definition)) return;
      throw usageError(
        'INVALID_METRIC',
        `Invalid metric definition "${definition.name}": it is already defined as ${describe(existing)}, not ${describe(definition)}.`,
        ['Give the new metric its own name.'],
      );
    }
    this.byName.set(definition.name, Object.freeze({ ...definition }));
  }
}

function definitionProblem(definition: MetricDefinition): string | undefined {
  // Extras come from configuration files, so the types are not trusted here.
  if (typeof definition.name !== 'string') return 'its name is not a string';
  const nameProblem = metricNameProblem(definition.name);
  if (nameProblem) return `${nameProblem} (${METRIC_NAME_RULE})`;
  if (typeof definition.unit !== 'string' || definition.unit.trim() === '') return 'its unit is empty';
  if (!AGGREGATIONS.includes(definition.aggregation)) {
    return `its aggregation is ${JSON.stringify(definition.aggregation)} (sum or max)`;
  }
  return undefined;
}

/** What billing depends on; a reworded description is not a conflict. */
function sameDefinition(a: MetricDefinition, b: MetricDefinition): boolean {
  return a.unit === b.unit && a.aggregation === b.aggregation;
}

function describe(definition: MetricDefinition): string {
  return `${definition.aggregation} of ${definition.unit}`;
}

/** Folds one more value into an hour's running value for a metric. */
export function combine(aggregation: Aggregation, a: number, b: number): number {
  switch (aggregation) {
    case 'sum':
      return a + b;
    case 'max':
      return Math.max(a, b);
    default:
      return unreachable(aggregation);
  }
}

function unreachable(aggregation: never): never {
  throw new Error(`Unknown aggregation ${JSON.stringify(aggregation)}`);
}
