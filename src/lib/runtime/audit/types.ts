import type { IsolationModel, TenantStatus } from '../../tenants/model.js';
import type { Decision } from '../iam-eval.js';
import type { SessionPolicy } from '../policy.js';

/** The `audit isolation` result: the `--json` contract. */

export type CheckStatus = 'pass' | 'fail' | 'skip';

export const CHECK_IDS = ['pooled-keys', 'postgres-rls', 'session-policies', 'silo-keys'] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export const CHECK_TITLES: Readonly<Record<CheckId, string>> = {
  'pooled-keys': 'Pooled table keys are tenant-prefixed',
  'postgres-rls': 'PostgreSQL row-level security (pooled schema)',
  'session-policies': 'Session policies isolate tenants',
  'silo-keys': "Silo tenants' keys are enabled and rotate",
};

export interface Finding {
  /** What is wrong (or, for a skipped check, why it did not run), in one sentence. */
  readonly message: string;
  /** What it is about: a key, a table, a tier, a tenant. */
  readonly subject?: string;
}

export interface AuditCheck<D> {
  readonly id: CheckId;
  readonly title: string;
  readonly status: CheckStatus;
  readonly findings: readonly Finding[];
  /** The evidence, whatever the status (absent when the check could not run). */
  readonly details?: D;
}

export interface IsolationAuditResult {
  readonly target: string;
  readonly stage: string;
  readonly region: string;
  /** The one tenant audited (--tenant); absent for the whole platform. */
  readonly tenantId?: string;
  readonly startedAt: string;
  readonly elapsedMs: number;
  /** True when no check failed. */
  readonly passed: boolean;
  readonly summary: Readonly<Record<CheckStatus, number>>;
  readonly checks: readonly [
    AuditCheck<PooledKeysDetails>,
    AuditCheck<PostgresDetails>,
    AuditCheck<SessionPolicyDetails>,
    AuditCheck<SiloKeysDetails>,
  ];
}

// 1. Pooled table keys

export type KeyProblem = 'not-tenant-prefixed' | 'invalid-tenant-id' | 'unknown-tenant';

export interface OffendingKey {
  readonly PK: unknown;
  readonly SK?: unknown;
  readonly problem: KeyProblem;
}

export interface PooledKeysDetails {
  readonly table: string;
  /** scan: every item of the table; query: the tenant's own partition (--tenant). */
  readonly method: 'scan' | 'query';
  readonly items: number;
  readonly partitions: number;
  readonly offending: number;
  readonly byProblem: Readonly<Record<KeyProblem, number>>;
  /** The first offending keys, at most OFFENDING_SHOWN. */
  readonly firstOffending: readonly OffendingKey[];
}

// 2. PostgreSQL

export interface PostgresTable {
  readonly name: string;
  readonly owner: string;
  readonly hasTenantId: boolean;
  readonly rlsEnabled: boolean;
  readonly rlsForced: boolean;
  readonly policies: number;
}

export interface PostgresView {
  readonly name: string;
  readonly kind: 'view' | 'materialized view';
  readonly securityInvoker: boolean;
}

export interface PostgresDetails {
  readonly schema: string;
  readonly appRole: string;
  readonly serverVersion: string;
  readonly role?: {
    readonly superuser: boolean;
    readonly bypassRls: boolean;
    readonly owns: readonly string[];
  };
  readonly tables: readonly PostgresTable[];
  readonly views: readonly PostgresView[];
  readonly securityDefinerFunctions: readonly string[];
}

// 3. Session policies

export interface ProbeOutcome {
  readonly total: number;
  /** How many came out as expected (denied for cross/forbidden, allowed for own). */
  readonly asExpected: number;
}

export interface PolicyProbeFailure {
  readonly holder: string;
  readonly kind: ProbeKind;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
  readonly expected: 'Allowed' | 'denied' | 'ExplicitlyDenied';
  readonly decision: Decision;
}

export type ProbeKind = 'cross-tenant' | 'own' | 'forbidden';

export interface TierPolicyEvidence {
  readonly tier: string;
  readonly isolation: IsolationModel;
  /** synthetic: made-up tenants of the tier; tenant: the audited tenant's own policy. */
  readonly subject: 'synthetic' | 'tenant';
  /** The tenants whose policies were evaluated (ids that are prefixes of each other). */
  readonly holders: readonly string[];
  /** The first holder's policy, as STS receives it. */
  readonly policy: SessionPolicy;
  /** The largest holder policy, compact JSON, and the budget (half of STS's limit). */
  readonly characters: number;
  readonly budget: number;
  readonly limit: number;
  readonly crossTenant: ProbeOutcome;
  readonly own: ProbeOutcome;
  readonly forbidden: ProbeOutcome;
  readonly failures: readonly PolicyProbeFailure[];
  /** Set when the policy could not be built or judged at all. */
  readonly error?: string;
}

export interface SessionPolicyDetails {
  readonly evaluator: 'saasctl iam-eval';
  readonly policies: readonly TierPolicyEvidence[];
}

// 4. Silo keys

export type KeyVerdict = 'ok' | 'expected-disabled' | 'expected-deleting' | 'fail';

export interface SiloKeyEvidence {
  readonly tenantId: string;
  readonly status: TenantStatus;
  readonly region: string;
  readonly keyArn?: string;
  readonly keyState?: string;
  readonly rotationEnabled?: boolean;
  readonly verdict: KeyVerdict;
  readonly note?: string;
}

export interface SiloKeysDetails {
  readonly keys: readonly SiloKeyEvidence[];
}
