import type { Pool, PoolClient } from 'pg';

/**
 * The pooled PostgreSQL schema: every tenant table has `tenant_id` leading its primary key,
 * unique keys and foreign keys; row-level security is enabled and forced (so even the table's
 * owner is filtered), with a RESTRICTIVE policy on `tenant_id = NULLIF(current_setting(
 * 'app.current_tenant', true), '')` for reads and writes. With no tenant set the setting is
 * NULL or '', the comparison is never true: zero rows, and inserts refused. The runtime connects
 * as `APP_ROLE`, NOSUPERUSER NOBYPASSRLS, owner of nothing.
 */

export const APP_SCHEMA = 'app';
export const APP_ROLE = 'saasctl_app';
export const TENANT_SETTING = 'app.current_tenant';

/** The tenant of the current transaction, or NULL: the expression every tenant policy uses. */
export const CURRENT_TENANT_SQL = `NULLIF(current_setting('${TENANT_SETTING}', true), '')`;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Row-level security for one tenant table: enabled, forced, a permissive and a restrictive policy. */
function tenantIsolation(table: string): string {
  const qualified = `${APP_SCHEMA}.${table}`;
  return `
ALTER TABLE ${qualified} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${qualified} FORCE ROW LEVEL SECURITY;
CREATE POLICY ${table}_tenant_rows ON ${qualified} AS PERMISSIVE FOR ALL TO ${APP_ROLE}
  USING (tenant_id = ${CURRENT_TENANT_SQL}) WITH CHECK (tenant_id = ${CURRENT_TENANT_SQL});
CREATE POLICY ${table}_tenant_isolation ON ${qualified} AS RESTRICTIVE FOR ALL TO PUBLIC
  USING (tenant_id = ${CURRENT_TENANT_SQL}) WITH CHECK (tenant_id = ${CURRENT_TENANT_SQL});
GRANT SELECT, INSERT, UPDATE, DELETE ON ${qualified} TO ${APP_ROLE};`;
}

const TENANT_ID_CHECK = `CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$' AND tenant_id NOT LIKE '%--%')`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'folders and notes (the sample application collection)',
    sql: `
CREATE SCHEMA IF NOT EXISTS ${APP_SCHEMA};
GRANT USAGE ON SCHEMA ${APP_SCHEMA} TO ${APP_ROLE};
CREATE TABLE ${APP_SCHEMA}.folders (
  tenant_id text NOT NULL DEFAULT ${CURRENT_TENANT_SQL} ${TENANT_ID_CHECK},
  folder_id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, folder_id),
  UNIQUE (tenant_id, name)
);
CREATE TABLE ${APP_SCHEMA}.notes (
  tenant_id text NOT NULL DEFAULT ${CURRENT_TENANT_SQL} ${TENANT_ID_CHECK},
  note_id uuid NOT NULL DEFAULT gen_random_uuid(),
  folder_id uuid NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, note_id),
  FOREIGN KEY (tenant_id, folder_id) REFERENCES ${APP_SCHEMA}.folders (tenant_id, folder_id) ON DELETE CASCADE
);
${tenantIsolation('folders')}
${tenantIsolation('notes')}`,
  },
];

/**
 * Creates the app role (NOSUPERUSER NOBYPASSRLS, no CREATE anywhere) and applies the migrations
 * not applied yet, each in its own transaction, under an advisory lock so that two processes
 * never apply one twice. Runs as the database owner, never as the app role.
 */
export async function migrate(
  owner: Pool,
  appPassword: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const client = await owner.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(7007)');
    await ensureAppRole(client, appPassword);
    await client.query(
      'CREATE TABLE IF NOT EXISTS public.saasctl_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM public.saasctl_migrations');
    const done = new Set(rows.map((r) => r.version));
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO public.saasctl_migrations (version, name) VALUES ($1, $2)', [
          migration.version,
          migration.name,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      applied.push(migration.version);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(7007)').catch(() => undefined);
    client.release();
  }
  return applied;
}

async function ensureAppRole(client: PoolClient, password: string): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_ROLE]);
  const literal = `'${password.replace(/'/g, "''")}'`;
  const attributes = 'LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT';
  await client.query(
    rowCount
      ? `ALTER ROLE ${APP_ROLE} ${attributes} PASSWORD ${literal}`
      : `CREATE ROLE ${APP_ROLE} ${attributes} PASSWORD ${literal}`,
  );
  // PostgreSQL before 15 lets every role create in public; the app role creates nothing.
  await client.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
}
