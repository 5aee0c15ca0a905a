import { APP_ROLE, APP_SCHEMA } from '../postgres/migrations.js';
import {
  CHECK_TITLES,
  type AuditCheck,
  type Finding,
  type PostgresDetails,
  type PostgresTable,
  type PostgresView,
} from './types.js';

/** What the check needs of a PostgreSQL connection (pg's Client has it). */
export interface SqlClient {
  query<R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

const TITLE = CHECK_TITLES['postgres-rls'];

/**
 * Check 2, over the owner's connection string: connects with `pg` (loaded on first use), runs
 * the catalog queries, and always closes the connection.
 */
export async function auditPostgresAt(ownerUrl: string): Promise<AuditCheck<PostgresDetails>> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    return await auditPostgres(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Check 2: the pooled schema's isolation as PostgreSQL enforces it, read from its catalog.
 * Every table of the app schema holds tenant rows (tenant_id), with RLS enabled and forced
 * (forced: the owner is filtered too); the app role is neither superuser, nor BYPASSRLS, nor
 * the owner (or a member of the owner) of any table; no view runs with its owner's rights
 * (a view without security_invoker reads the table as its owner, past the caller's RLS; a
 * materialized view stores every tenant's rows); no SECURITY DEFINER function.
 */
export async function auditPostgres(client: SqlClient): Promise<AuditCheck<PostgresDetails>> {
  const findings: Finding[] = [];
  const [{ server_version: serverVersion }] = (
    await client.query<{ server_version: string }>('SHOW server_version')
  ).rows;
  const schemaExists = (
    await client.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)', [
      APP_SCHEMA,
    ])
  ).rows[0].exists;
  if (!schemaExists)
    findings.push({ subject: APP_SCHEMA, message: `The app schema "${APP_SCHEMA}" does not exist.` });

  const tables: PostgresTable[] = (
    await client.query<{
      name: string;
      owner: string;
      has_tenant_id: boolean;
      rls_enabled: boolean;
      rls_forced: boolean;
      policies: number;
      app_is_member_of_owner: boolean | null;
    }>(
      `SELECT c.relname AS name,
              pg_get_userbyid(c.relowner) AS owner,
              EXISTS (SELECT 1 FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped)
                AS has_tenant_id,
              c.relrowsecurity AS rls_enabled,
              c.relforcerowsecurity AS rls_forced,
              (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
              CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)
                   THEN pg_has_role($2, c.relowner, 'MEMBER') END AS app_is_member_of_owner
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
        ORDER BY c.relname`,
      [APP_SCHEMA, APP_ROLE],
    )
  ).rows.map((row) => {
    const subject = `${APP_SCHEMA}.${row.name}`;
    if (!row.has_tenant_id) {
      findings.push({
        subject,
        message: 'The table has no tenant_id column: every app-schema table holds tenant rows.',
      });
    }
    if (!row.rls_enabled) findings.push({ subject, message: 'Row-level security is not enabled.' });
    if (!row.rls_forced) {
      findings.push({ subject, message: "Row-level security is not forced: the table's owner bypasses it." });
    }
    if (row.app_is_member_of_owner && row.owner !== APP_ROLE) {
      findings.push({ subject, message: `${APP_ROLE} is a member of the table's owner ${row.owner}.` });
    }
    return {
      name: row.name,
      owner: row.owner,
      hasTenantId: row.has_tenant_id,
      rlsEnabled: row.rls_enabled,
      rlsForced: row.rls_forced,
      policies: row.policies,
    };
  });

  const roleRows = (
    await client.query<{ superuser: boolean; bypass_rls: boolean; owns: string[] }>(
      `SELECT r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls,
              ARRAY(SELECT n.nspname || '.' || c.relname
                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                     ORDER BY 1) AS owns
         FROM pg_roles r WHERE r.rolname = $1`,
      [APP_ROLE],
    )
  ).rows;
  const role = roleRows[0] && {
    superuser: roleRows[0].superuser,
    bypassRls: roleRows[0].bypass_rls,
    owns: roleRows[0].owns,
  };
  if (!role) findings.push({ subject: APP_ROLE, message: 'The app role does not exist.' });
  if (role?.superuser)
    findings.push({ subject: APP_ROLE, message: 'The app role is a superuser: RLS does not apply to it.' });
  if (role?.bypassRls) findings.push({ subject: APP_ROLE, message: 'The app role has BYPASSRLS.' });
  for (const owned of role?.owns ?? []) {
    findings.push({ subject: APP_ROLE, message: `The app role owns ${owned}: an owner can turn RLS off.` });
  }

  const views: PostgresView[] = (
    await client.query<{ name: string; kind: string; options: string[] | null }>(
      `SELECT c.relname AS name, c.relkind::text AS kind, c.reloptions AS options
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')
        ORDER BY c.relname`,
      [APP_SCHEMA],
    )
  ).rows.map((row) => {
    const view: PostgresView = {
      name: row.name,
      kind: row.kind === 'm' ? 'materialized view' : 'view',
      securityInvoker: (row.options ?? []).some((o) => /^security_invoker=(true|on|yes|1)$/i.test(o)),
    };
    const subject = `${APP_SCHEMA}.${row.name}`;
    if (view.kind === 'materialized view') {
      findings.push({
        subject,
        message: "A materialized view stores rows read with its owner's rights, every tenant's.",
      });
    } else if (!view.securityInvoker) {
      findings.push({
        subject,
        message:
          "The view runs with its owner's rights (no security_invoker=true): it bypasses the caller's RLS.",
      });
    }
    return view;
  });

  const securityDefinerFunctions = (
    await client.query<{ name: string }>(
      `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.prosecdef
        ORDER BY 1`,
      [APP_SCHEMA],
    )
  ).rows.map((row) => row.name);
  for (const fn of securityDefinerFunctions) {
    findings.push({
      subject: `${APP_SCHEMA}.${fn}`,
      message: "A SECURITY DEFINER function runs with its owner's rights, past the caller's RLS.",
    });
  }

  return {
    id: 'postgres-rls',
    title: TITLE,
    status: findings.length === 0 ? 'pass' : 'fail',
    findings,
    details: {
      schema: APP_SCHEMA,
      appRole: APP_ROLE,
      serverVersion,
      role,
      tables,
      views,
      securityDefinerFunctions,
    },
  };
}

/** The check when it cannot run: no owner connection. */
export function postgresUnavailable(message: string): AuditCheck<PostgresDetails> {
  return { id: 'postgres-rls', title: TITLE, status: 'fail', findings: [{ message }] };
}
