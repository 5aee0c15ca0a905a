/**
 * A small IAM policy evaluator for the subset our session policies use, so `audit isolation`
 * can judge them at run time (the independent evaluator of the tests, iam-simulate, is AGPL and
 * a devDependency only). It evaluates one policy on its own: Allow/Deny, Action/NotAction,
 * Resource/NotResource, and the condition operators below. Anything outside that subset
 * throws, so a policy we cannot judge is never judged as allowing or denying.
 *
 * Semantics follow IAM's documented evaluation logic: an explicit Deny wins, then an Allow,
 * else the request is implicitly denied. Actions match case-insensitively, resources and
 * condition values case-sensitively (except the *IgnoreCase operators), condition key names
 * case-insensitively.
 */

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

export interface IamRequest {
  /** `service:Action`, e.g. `dynamodb:GetItem`. */
  readonly action: string;
  /** The resource ARN. */
  readonly resource: string;
  /** Request context keys; a multivalued key (dynamodb:LeadingKeys) is an array. */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

/** A policy document as JSON gives it: single values or arrays, as IAM accepts. */
export interface IamPolicyDocument {
  readonly Version?: string;
  readonly Statement: IamStatement | readonly IamStatement[];
}

export interface IamStatement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

/** Thrown for a policy this evaluator does not cover: unknown operator, element or variable. */
export class UnsupportedPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPolicyError';
  }
}

export function evaluatePolicy(policy: IamPolicyDocument, request: IamRequest): Decision {
  let allowed = false;
  let denied = false;
  // Every statement is evaluated, even after a Deny: one we cannot judge must throw.
  for (const statement of list(policy.Statement)) {
    if (!statementApplies(statement, request)) continue;
    if (statement.Effect === 'Deny') denied = true;
    else allowed = true;
  }
  return denied ? 'ExplicitlyDenied' : allowed ? 'Allowed' : 'ImplicitlyDenied';
}

const KNOWN_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);

function statementApplies(statement: IamStatement, request: IamRequest): boolean {
  for (const element of Object.keys(statement)) {
    if (!KNOWN_ELEMENTS.has(element)) {
      throw new UnsupportedPolicyError(`Statement element "${element}" is not supported`);
    }
  }
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') {
    throw new UnsupportedPolicyError(`Effect "${String(statement.Effect)}" is neither Allow nor Deny`);
  }
  const actionMatches = exactlyOne(statement, 'Action', 'NotAction', (patterns) =>
    patterns.some((p) => globMatches(p, request.action, true)),
  );
  const resourceMatches = exactlyOne(statement, 'Resource', 'NotResource', (patterns) =>
    patterns.some((p) => resourceMatchesPattern(p, request.resource)),
  );
  // Conditions are evaluated even when the rest does not match, so an unsupported operator
  // throws whatever the request: the evaluator's coverage must not depend on the corpus.
  const conditionsHold = conditionsMatch(statement.Condition ?? {}, request.context ?? {});
  return actionMatches && resourceMatches && conditionsHold;
}

function exactlyOne(
  statement: IamStatement,
  positive: 'Action' | 'Resource',
  negative: 'NotAction' | 'NotResource',
  matches: (patterns: readonly string[]) => boolean,
): boolean {
  const plain = statement[positive];
  const not = statement[negative];
  if ((plain === undefined) === (not === undefined)) {
    throw new UnsupportedPolicyError(`A statement needs exactly one of ${positive} and ${negative}`);
  }
  return plain !== undefined ? matches(list(plain)) : !matches(list(not as string | readonly string[]));
}

/** `*` any run of characters, `?` one character; `${...}` policy variables are not supported. */
function globMatches(pattern: string, value: string, ignoreCase: boolean): boolean {
  if (pattern.includes('${')) {
    throw new UnsupportedPolicyError(`Policy variables are not supported: ${pattern}`);
  }
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

/**
 * An ARN pattern matches segment by segment (partition, service, region, account), so a `*`
 * in the region never spills into the account; the resource part may itself hold colons.
 */
function resourceMatchesPattern(pattern: string, resource: string): boolean {
  if (pattern === '*') return true;
  const p = arnParts(pattern);
  const r = arnParts(resource);
  if (!p || !r) return globMatches(pattern, resource, false);
  return p.every((segment, i) => globMatches(segment, r[i], false));
}

function arnParts(value: string): string[] | undefined {
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** A context key's value: absent, single-valued, or multivalued (an array, even of one). */
type Values = string | readonly string[] | undefined;

interface BaseOperator {
  /** Whether one request value satisfies the operator against the policy's values. */
  readonly test: (value: string, policyValues: readonly string[]) => boolean;
  /** Negated operators (StringNot*) are true for an absent key. */
  readonly negated: boolean;
}

const BASE_OPERATORS: Readonly<Record<string, BaseOperator>> = {
  stringequals: { test: (v, ps) => ps.some((p) => literal(p) === v), negated: false },
  stringnotequals: { test: (v, ps) => !ps.some((p) => literal(p) === v), negated: true },
  stringequalsignorecase: {
    test: (v, ps) => ps.some((p) => literal(p).toLowerCase() === v.toLowerCase()),
    negated: false,
  },
  stringnotequalsignorecase: {
    test: (v, ps) => !ps.some((p) => literal(p).toLowerCase() === v.toLowerCase()),
    negated: true,
  },
  stringlike: { test: (v, ps) => ps.some((p) => globMatches(p, v, false)), negated: false },
  stringnotlike: { test: (v, ps) => !ps.some((p) => globMatches(p, v, false)), negated: true },
  bool: { test: (v, ps) => ps.some((p) => literal(p).toLowerCase() === v.toLowerCase()), negated: false },
};

function literal(value: string): string {
  if (value.includes('${')) throw new UnsupportedPolicyError(`Policy variables are not supported: ${value}`);
  return value;
}

function conditionsMatch(
  block: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>,
  context: Readonly<Record<string, string | readonly string[]>>,
): boolean {
  const lookup = new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v]));
  let holds = true;
  for (const [operator, keys] of Object.entries(block)) {
    const test = conditionOperator(operator);
    for (const [key, policyValues] of Object.entries(keys)) {
      if (!test(lookup.get(key.toLowerCase()), list(policyValues))) holds = false;
    }
  }
  return holds;
}

/**
 * The operator's test over the request's values (undefined when the key is absent). Set
 * operators: ForAllValues holds when every request value satisfies the base operator, so it
 * holds for an absent or empty key (the reason policies pair it with a Null guard);
 * ForAnyValue needs at least one. A single-valued operator on a multivalued key never holds.
 */
function conditionOperator(name: string): (values: Values, policyValues: readonly string[]) => boolean {
  const lower = name.toLowerCase();
  if (lower === 'null') {
    return (values, policyValues) => {
      const absent = values === undefined;
      return policyValues.some((p) => {
        if (p !== 'true' && p !== 'false')
          throw new UnsupportedPolicyError(`Null takes true or false, not ${p}`);
        return (p === 'true') === absent;
      });
    };
  }
  const set = /^(forallvalues|foranyvalue):(.*)$/.exec(lower);
  const rest = set ? set[2] : lower;
  const ifExists = rest.endsWith('ifexists');
  const base = BASE_OPERATORS[ifExists ? rest.slice(0, -'ifexists'.length) : rest];
  if (!base || (set && ifExists)) {
    throw new UnsupportedPolicyError(`Condition operator "${name}" is not supported by this evaluator`);
  }
  if (set?.[1] === 'forallvalues') {
    return (values, ps) => list(values ?? []).every((v) => base.test(v, ps));
  }
  if (set?.[1] === 'foranyvalue') {
    return (values, ps) => list(values ?? []).some((v) => base.test(v, ps));
  }
  return (values, ps) => {
    if (values === undefined) return ifExists || base.negated;
    // IAM: a set operator is required for a multivalued key; without one nothing matches.
    if (typeof values !== 'string') return false;
    return base.test(values, ps);
  };
}

function list<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}
