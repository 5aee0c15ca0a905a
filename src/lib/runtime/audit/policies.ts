import type { PlatformConfig } from '../../platform/config.js';
import { keys } from '../../tenants/keys.js';
import { tenantIdProblem } from '../../tenants/model.js';
import { tenantTableName } from '../../tenants/silo-table.js';
import { isPooled, type Tier } from '../../tenants/tiers.js';
import { evaluatePolicy, type Decision, type IamRequest } from '../iam-eval.js';
import {
  SESSION_POLICY_MAX_CHARS,
  tenantObjectPrefix,
  tenantSessionPolicy,
  type PolicyPlatform,
  type PolicyTenant,
  type SessionPolicy,
} from '../policy.js';
import {
  CHECK_TITLES,
  type AuditCheck,
  Finding,
  PolicyProbeFailure,
  ProbeKind,
  ProbeOutcome,
  SessionPolicyDetails,
  TierPolicyEvidence,
} from './types.js';

/** The DynamoDB item actions the runtime uses on tenant data, each carrying dynamodb:LeadingKeys. */
export const DATA_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
] as const;
export const DATA_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'] as const;
export const DATA_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;
/** What no tenant session may do even on its own keys: each is denied explicitly by the policy. */
export const FORBIDDEN_TABLE_ACTIONS = [
  'dynamodb:Scan',
  'dynamodb:PartiQLSelect',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
] as const;

/** Synthetic tenant ids that are prefixes of each other: the case a missing delimiter leaks. */
export const SYNTHETIC_TENANT_IDS = ['probe', 'probe2', 'probe-2'] as const;

/** Half of STS's limit: room for the packed size and for longer ids and names. */
export const SESSION_POLICY_BUDGET = SESSION_POLICY_MAX_CHARS / 2;

/** What synthetic tenants need of the platform: the policy's names, and the stage for table names. */
export type ProbePlatform = PolicyPlatform & Pick<PlatformConfig, 'stage'>;

/** A request and the decision isolation requires for it. */
export interface PolicyProbe extends IamRequest {
  readonly kind: ProbeKind;
  /** The tenant whose data the request reaches. */
  readonly owner: string;
  /** denied: anything but Allowed; ExplicitlyDenied: the policy's explicit deny must catch it. */
  readonly expected: 'Allowed' | 'denied' | 'ExplicitlyDenied';
}

export function probeSatisfied(probe: PolicyProbe, decision: Decision): boolean {
  if (probe.expected === 'denied') return decision !== 'Allowed';
  return decision === probe.expected;
}

/**
 * A plausible tenant of a tier, as onboarding would record it: silo tiers get their own table
 * (`<stage>-tenant-<id>`) and key, a silo-account tier also its own account.
 */
export function syntheticTenant(
  tenantId: string,
  tier: Pick<Tier, 'name' | 'isolation'>,
  config: ProbePlatform,
  index = 0,
): PolicyTenant {
  const base: PolicyTenant = { tenantId, tier: tier.name, isolation: tier.isolation, region: config.region };
  if (isPooled(tier.isolation)) return base;
  const accountId =
    tier.isolation === 'silo-account' ? String(100_000_000_001 + index).padStart(12, '0') : undefined;
  const keyId = `00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`;
  return {
    ...base,
    dataTable: tenantTableName(config.stage, tenantId),
    keyArn: `arn:${partitionOf(config)}:kms:${config.region}:${accountId ?? config.accountId}:key/${keyId}`,
    ...(accountId ? { accountId } : {}),
  };
}

/** The table ARNs a tenant's items live in (as tenantSessionPolicy names them). */
export function tenantTableArns(tenant: PolicyTenant, config: PolicyPlatform): string[] {
  const partition = partitionOf(config);
  const own = tenant.dataTable
    ? [
        `arn:${partition}:dynamodb:${tenant.region}:${tenant.accountId ?? config.accountId}:table/${tenant.dataTable}`,
      ]
    : [];
  if (!isPooled(tenant.isolation)) return own;
  return [
    `arn:${partition}:dynamodb:${config.region}:${config.accountId}:table/${config.tables.pooled}`,
    ...own,
  ];
}

/**
 * Every request a holder's session must decide right: its own items, objects and key allowed;
 * Scan, PartiQL, indexes, keyless item requests denied; and for each other tenant, that
 * tenant's partitions, shards, objects and key denied, on the holder's tables and on the
 * other's (a batch that mixes both tenants' keys too).
 */
export function isolationProbes(
  holder: PolicyTenant,
  others: readonly PolicyTenant[],
  config: PolicyPlatform,
): PolicyProbe[] {
  const probes: PolicyProbe[] = [];
  const id = holder.tenantId;
  const tables = tenantTableArns(holder, config);
  const add = (
    kind: ProbeKind,
    owner: string,
    expected: PolicyProbe['expected'],
    request: IamRequest,
  ): void => {
    probes.push({ kind, owner, expected, ...request });
  };
  const itemRequests = (tenantId: string, onTables: readonly string[]): IamRequest[] =>
    DATA_ITEM_ACTIONS.flatMap((action) =>
      onTables.flatMap((resource) =>
        [keys.tenantPartition(tenantId), `${keys.tenantPartition(tenantId)}#7`].map((key) => ({
          action,
          resource,
          context: { 'dynamodb:LeadingKeys': [key] },
        })),
      ),
    );
  const objectRequests = (tenantId: string): IamRequest[] =>
    config.tenantDataBucket
      ? DATA_OBJECT_ACTIONS.map((action) => ({
          action,
          resource: `arn:${partitionOf(config)}:s3:::${config.tenantDataBucket}/${tenantObjectPrefix(tenantId)}doc-1.json`,
        }))
      : [];
  const keyRequests = (keyArn: string | undefined, contextTenant: string | undefined): IamRequest[] =>
    keyArn
      ? DATA_KEY_ACTIONS.map((action) => ({
          action,
          resource: keyArn,
          ...(contextTenant ? { context: { 'kms:EncryptionContext:tenantId': contextTenant } } : {}),
        }))
      : [];

  for (const request of [
    ...itemRequests(id, tables),
    ...objectRequests(id),
    ...keyRequests(holder.keyArn, id),
  ]) {
    add('own', id, 'Allowed', request);
  }
  for (const resource of tables) {
    for (const action of FORBIDDEN_TABLE_ACTIONS) {
      add('forbidden', id, 'ExplicitlyDenied', {
        action,
        resource,
        context: { 'dynamodb:LeadingKeys': [keys.tenantPartition(id)] },
      });
    }
    add('forbidden', id, 'ExplicitlyDenied', {
      action: 'dynamodb:Query',
      resource: `${resource}/index/gsi1`,
      context: { 'dynamodb:LeadingKeys': [keys.tenantPartition(id)] },
    });
    add('forbidden', id, 'denied', { action: 'dynamodb:GetItem', resource });
  }
  for (const request of keyRequests(holder.keyArn, undefined)) add('forbidden', id, 'denied', request);

  for (const other of others) {
    if (other.tenantId === id) continue;
    const victim = other.tenantId;
    const onTables = [...new Set([...tables, ...tenantTableArns(other, config)])];
    const cross = [
      ...itemRequests(victim, onTables),
      ...tables.map((resource) => ({
        action: 'dynamodb:BatchGetItem',
        resource,
        context: { 'dynamodb:LeadingKeys': [keys.tenantPartition(id), keys.tenantPartition(victim)] },
      })),
      ...objectRequests(victim),
      ...keyRequests(holder.keyArn, victim),
      ...(other.keyArn && other.keyArn !== holder.keyArn
        ? [...keyRequests(other.keyArn, victim), ...keyRequests(other.keyArn, id)]
        : []),
    ];
    for (const request of cross) add('cross-tenant', victim, 'denied', request);
  }
  return probes;
}

/** Ids that are prefixes of the tenant's, or that it is a prefix of: the neighbours to probe. */
export function neighbourIds(tenantId: string): string[] {
  const shorter = tenantId.slice(0, -1).replace(/-+$/, '');
  return [
    `${tenantId}2`,
    `${tenantId}-2`,
    `${tenantId}x`,
    ...(tenantIdProblem(shorter) === undefined ? [shorter] : []),
  ];
}

const FAILURES_KEPT = 10;

/** Builds and judges the policies of a group of tenants that are prefixes of each other. */
export function judgePolicies(
  tier: Pick<Tier, 'name' | 'isolation'>,
  subject: TierPolicyEvidence['subject'],
  holders: readonly PolicyTenant[],
  neighbours: readonly PolicyTenant[],
  config: PolicyPlatform,
): TierPolicyEvidence {
  const outcome = { 'cross-tenant': counter(), own: counter(), forbidden: counter() };
  const failures: PolicyProbeFailure[] = [];
  let first: SessionPolicy | undefined;
  let characters = 0;
  try {
    for (const holder of holders) {
      const policy = tenantSessionPolicy(holder, config);
      first ??= policy;
      characters = Math.max(characters, JSON.stringify(policy).length);
      for (const probe of isolationProbes(holder, [...holders, ...neighbours], config)) {
        const decision = evaluatePolicy(policy, probe);
        const tally = outcome[probe.kind];
        tally.total++;
        if (probeSatisfied(probe, decision)) {
          tally.asExpected++;
        } else if (failures.length < FAILURES_KEPT) {
          failures.push({
            holder: holder.tenantId,
            kind: probe.kind,
            action: probe.action,
            resource: probe.resource,
            ...(probe.context ? { context: probe.context } : {}),
            expected: probe.expected,
            decision,
          });
        }
      }
    }
  } catch (err) {
    return {
      ...evidence(tier, subject, holders, first, characters, outcome, failures),
      error: err instanceof Error ? err.message : String(err),
    };
  }
  return evidence(tier, subject, holders, first, characters, outcome, failures);
}

function evidence(
  tier: Pick<Tier, 'name' | 'isolation'>,
  subject: TierPolicyEvidence['subject'],
  holders: readonly PolicyTenant[],
  policy: SessionPolicy | undefined,
  characters: number,
  outcome: Record<ProbeKind, ProbeOutcome>,
  failures: readonly PolicyProbeFailure[],
): TierPolicyEvidence {
  return {
    tier: tier.name,
    isolation: tier.isolation,
    subject,
    holders: holders.map((h) => h.tenantId),
    policy: policy ?? { Version: '2012-10-17', Statement: [] },
    characters,
    budget: SESSION_POLICY_BUDGET,
    limit: SESSION_POLICY_MAX_CHARS,
    crossTenant: outcome['cross-tenant'],
    own: outcome.own,
    forbidden: outcome.forbidden,
    failures,
  };
}

/** The findings of one tier's (or tenant's) evidence; none means it passed. */
export function policyFindings(evidence: TierPolicyEvidence): Finding[] {
  const subject = evidence.subject === 'tenant' ? `tenant ${evidence.holders[0]}` : `tier ${evidence.tier}`;
  const findings: Finding[] = [];
  if (evidence.error)
    findings.push({ subject, message: `The policy could not be built or judged: ${evidence.error}` });
  if (evidence.characters > evidence.budget) {
    findings.push({
      subject,
      message: `The policy is ${evidence.characters} characters: over ${evidence.budget}, half of STS's ${evidence.limit}.`,
    });
  }
  for (const f of evidence.failures) {
    const keys = f.context ? ` ${JSON.stringify(f.context)}` : '';
    findings.push({
      subject,
      message: `${f.kind}: ${f.holder}'s session ${f.decision} ${f.action} on ${f.resource}${keys} (expected ${f.expected}).`,
    });
  }
  const failed =
    evidence.crossTenant.total -
    evidence.crossTenant.asExpected +
    evidence.own.total -
    evidence.own.asExpected +
    evidence.forbidden.total -
    evidence.forbidden.asExpected;
  if (failed > evidence.failures.length) {
    findings.push({
      subject,
      message: `${failed - evidence.failures.length} more requests decided wrongly.`,
    });
  }
  return findings;
}

/**
 * Check 3: each tier's session policy, built for synthetic tenants whose ids are prefixes of
 * each other (and, with a tenant, that tenant's own policy against its neighbours), is under
 * half of STS's limit and isolates: judged by our evaluator (iam-eval.ts).
 */
export function auditSessionPolicies(
  tiers: readonly Pick<Tier, 'name' | 'isolation'>[],
  config: ProbePlatform,
  tenant?: PolicyTenant,
): AuditCheck<SessionPolicyDetails> {
  const policies: TierPolicyEvidence[] = tiers.map((tier) =>
    judgePolicies(
      tier,
      'synthetic',
      SYNTHETIC_TENANT_IDS.map((id, i) => syntheticTenant(id, tier, config, i)),
      [],
      config,
    ),
  );
  if (tenant) {
    const tier = { name: tenant.tier, isolation: tenant.isolation };
    policies.push(
      judgePolicies(
        tier,
        'tenant',
        [tenant],
        neighbourIds(tenant.tenantId).map((id, i) => syntheticTenant(id, tier, config, i + 10)),
        config,
      ),
    );
  }
  const findings = policies.flatMap(policyFindings);
  return {
    id: 'session-policies',
    title: CHECK_TITLES['session-policies'],
    status: policies.length === 0 ? 'skip' : findings.length === 0 ? 'pass' : 'fail',
    findings:
      policies.length === 0 ? [{ message: 'The tier catalog is empty: no policy to judge.' }] : findings,
    details: { evaluator: 'saasctl iam-eval', policies },
  };
}

function counter(): { total: number; asExpected: number } {
  return { total: 0, asExpected: 0 };
}

function partitionOf(config: PolicyPlatform): string {
  return /^arn:([a-z-]+):/.exec(config.tenantRuntimeRoleArn)?.[1] ?? 'aws';
}
