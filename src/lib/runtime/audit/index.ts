import { toSaasctlError } from '../../cli/errors.js';
import type { Reporter } from '../../cli/reporter.js';
import { catalogs, tenantClients } from '../../tenants/context.js';
import type { PlatformSource } from '../../tenants/lifecycle.js';
import { assertTenantId } from '../../tenants/model.js';
import { auditSessionPolicies } from './policies.js';
import { auditPooledKeys } from './pooled-keys.js';
import { auditPostgresAt, postgresUnavailable } from './postgres.js';
import { auditSiloKeys } from './silo-keys.js';
import {
  CHECK_TITLES,
  type AuditCheck,
  type CheckId,
  type CheckStatus,
  type IsolationAuditResult,
} from './types.js';

export * from './types.js';

export interface IsolationAuditOptions {
  /** Audit only this tenant: its partition, its key, its own policy (besides every tier's). */
  readonly tenantId?: string;
  readonly reporter?: Reporter;
}

/**
 * `audit isolation`: the four checks an enterprise security review asks for, each reported
 * with its evidence. A check that cannot run (no database connection, access denied) fails
 * with the reason rather than ending the audit: the report still shows the others. A bad or
 * unknown --tenant is refused before anything runs.
 */
export async function auditIsolation(
  open: PlatformSource,
  options: IsolationAuditOptions = {},
): Promise<IsolationAuditResult> {
  const id = options.tenantId === undefined ? undefined : assertTenantId(options.tenantId);
  const startedAt = new Date();
  const platform = await open();
  const { catalog, tiers } = catalogs(platform);
  const tenant = id === undefined ? undefined : await catalog.require(id);
  const all = await catalog.list();
  const known = new Set(all.map((t) => t.tenantId));
  const run = <D>(checkId: CheckId, fn: () => Promise<AuditCheck<D>>): Promise<AuditCheck<D>> =>
    runCheck(checkId, fn, options.reporter);

  const pooled = await run('pooled-keys', () =>
    auditPooledKeys(platform.clients.documents(), platform.config.tables.pooled, known, id),
  );
  const postgres = await run('postgres-rls', async () => {
    const { owner } = await platform.database();
    if (!owner) {
      return postgresUnavailable(
        "No owner connection to the pooled database: the audit reads PostgreSQL's catalog as the schema owner (SAASCTL_DATABASE_URL on aws).",
      );
    }
    return auditPostgresAt(owner);
  });
  const policies = await run('session-policies', async () =>
    auditSessionPolicies(await tiers.list(), platform.config, tenant),
  );
  const keys = await run('silo-keys', () =>
    auditSiloKeys(tenant ? [tenant] : all, (t) => tenantClients(platform, t.region, t.accountId).kms()),
  );

  const checks = [pooled, postgres, policies, keys] as const;
  const summary: Record<CheckStatus, number> = { pass: 0, fail: 0, skip: 0 };
  for (const check of checks) summary[check.status]++;
  return {
    target: platform.target.name,
    stage: platform.config.stage,
    region: platform.config.region,
    ...(id ? { tenantId: id } : {}),
    startedAt: startedAt.toISOString(),
    elapsedMs: Date.now() - startedAt.getTime(),
    passed: summary.fail === 0,
    summary,
    checks,
  };
}

async function runCheck<D>(
  id: CheckId,
  fn: () => Promise<AuditCheck<D>>,
  reporter: Reporter | undefined,
): Promise<AuditCheck<D>> {
  const step = reporter?.step(CHECK_TITLES[id]);
  let check: AuditCheck<D>;
  try {
    check = await fn();
  } catch (err) {
    const error = toSaasctlError(err);
    check = {
      id,
      title: CHECK_TITLES[id],
      status: 'fail',
      findings: [{ message: `The check could not run [${error.code}]: ${error.message}` }],
    };
  }
  const detail = `${check.findings.length} finding${check.findings.length === 1 ? '' : 's'}`;
  if (check.status === 'pass') step?.done();
  else if (check.status === 'skip') step?.skipped(check.findings[0]?.message);
  else step?.failed(detail);
  return check;
}
