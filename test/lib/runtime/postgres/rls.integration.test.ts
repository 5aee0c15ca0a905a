import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import pg from 'pg';

import {
  appConnectionString,
  localSecrets,
  startEmbeddedPostgres,
} from '../../../../src/lib/local/postgres.js';
import type { RunningService } from '../../../../src/lib/local/services.js';
import { APP_ROLE, migrate } from '../../../../src/lib/runtime/postgres/migrations.js';
import { withTenant } from '../../../../src/lib/runtime/postgres/tenant-tx.js';

/** The SQLSTATE a rejected statement carries. */
async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('pooled PostgreSQL with row-level security (embedded PostgreSQL)', function () {
  this.timeout(120_000);
  let directory: string;
  let server: RunningService;
  let owner: pg.Pool;
  let app: pg.Pool;
  let folders: Record<string, string>;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-pg-'));
    // As root, PostgreSQL runs as the postgres user, which must reach the data folder.
    await chmod(directory, 0o755);
    server = await startEmbeddedPostgres(directory);
    owner = new pg.Pool({ connectionString: server.endpoint, max: 2 });
    // One connection: every request of every tenant goes through the same session.
    app = new pg.Pool({ connectionString: await appConnectionString(directory, server.endpoint), max: 1 });
    folders = {};
    for (const tenant of ['acme', 'acme2']) {
      folders[tenant] = await withTenant(app, tenant, async (c) => {
        const { rows } = await c.query<{ folder_id: string }>(
          "INSERT INTO app.folders (name) VALUES ('inbox') RETURNING folder_id",
        );
        await c.query('INSERT INTO app.notes (folder_id, body) VALUES ($1, $2)', [
          rows[0].folder_id,
          `note of ${tenant}`,
        ]);
        return rows[0].folder_id;
      });
    }
  });

  after(async () => {
    await app?.end();
    await owner?.end();
    await server?.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('migrates once: a second run applies nothing', async () => {
    expect(await migrate(owner, (await localSecrets(directory)).app)).to.deep.equal([]);
  });

  it('connects the runtime as a role that is neither superuser, nor bypassrls, nor an owner', async () => {
    const { rows } = await owner.query(
      `SELECT rolsuper, rolbypassrls, (SELECT count(*)::int FROM pg_tables WHERE tableowner = $1) AS owned
         FROM pg_roles WHERE rolname = $1`,
      [APP_ROLE],
    );
    expect(rows).to.deep.equal([{ rolsuper: false, rolbypassrls: false, owned: 0 }]);
  });

  it("shows each tenant only its own rows, and refuses to write another tenant's (42501)", async () => {
    const seen = await withTenant(
      app,
      'acme',
      async (c) => (await c.query('SELECT tenant_id, body FROM app.notes')).rows,
    );
    expect(seen).to.deep.equal([{ tenant_id: 'acme', body: 'note of acme' }]);
    const state = await sqlState(
      withTenant(app, 'acme', (c) =>
        c.query("INSERT INTO app.notes (tenant_id, folder_id, body) VALUES ('acme2', $1, 'forged')", [
          folders.acme2,
        ]),
      ),
    );
    expect(state).to.equal('42501');
  });

  it('refuses an UPDATE that moves a row to another tenant (42501)', async () => {
    const state = await sqlState(
      withTenant(app, 'acme', (c) =>
        c.query("UPDATE app.folders SET tenant_id = 'acme2' WHERE name = 'inbox'"),
      ),
    );
    expect(state).to.equal('42501');
  });

  it("cannot touch another tenant's rows by key: UPDATE and DELETE match nothing", async () => {
    const counts = await withTenant(app, 'acme', async (c) => [
      (await c.query('UPDATE app.notes SET body = $1 WHERE folder_id = $2', ['x', folders.acme2])).rowCount,
      (await c.query('DELETE FROM app.folders WHERE folder_id = $1', [folders.acme2])).rowCount,
    ]);
    expect(counts).to.deep.equal([0, 0]);
  });

  it('with no tenant set, reads zero rows and refuses inserts', async () => {
    const client = await app.connect();
    try {
      expect((await client.query('SELECT * FROM app.notes')).rowCount).to.equal(0);
      const state = await sqlState(
        client.query("INSERT INTO app.folders (tenant_id, name) VALUES ('acme', 'sneaky')"),
      );
      expect(state).to.equal('42501');
    } finally {
      client.release();
    }
  });

  it('leaves no tenant on the pooled connection after a transaction, committed or rolled back', async () => {
    await withTenant(app, 'acme', (c) => c.query('SELECT 1'));
    await withTenant(app, 'acme', () => Promise.reject(new Error('request failed'))).catch(() => undefined);
    const client = await app.connect();
    try {
      const { rows } = await client.query("SELECT current_setting('app.current_tenant', true) AS tenant");
      expect(rows[0].tenant ?? '').to.equal('');
      expect((await client.query('SELECT * FROM app.folders')).rowCount).to.equal(0);
    } finally {
      client.release();
    }
  });

  it('a session-level SET (what withTenant never does) would leak into the next borrower: the reason for set_config(..., true)', async () => {
    const first = await app.connect();
    await first.query("SET app.current_tenant = 'acme'");
    first.release();
    const next = await app.connect();
    try {
      expect((await next.query('SELECT tenant_id FROM app.notes')).rows).to.deep.equal([
        { tenant_id: 'acme' },
      ]);
      await next.query('RESET app.current_tenant');
    } finally {
      next.release();
    }
  });

  it('rejects a malformed tenant id before any SQL', async () => {
    const err = await withTenant(app, "acme' OR '1'='1", (c) => c.query('SELECT 1')).catch((e: Error) => e);
    expect((err as { code?: string }).code).to.equal('INVALID_TENANT_ID');
  });

  it('10,000 interleaved requests of two tenants over one connection see zero rows of the other', async () => {
    let foreign = 0;
    let own = 0;
    const tenants = ['acme', 'acme2'];
    const batch = 200;
    for (let i = 0; i < 10_000; i += batch) {
      const results = await Promise.all(
        Array.from({ length: batch }, (_, j) => {
          const tenant = tenants[(i + j) % 2];
          return withTenant(app, tenant, async (c) => {
            const { rows } = await c.query<{ tenant_id: string }>('SELECT tenant_id FROM app.notes');
            return rows.map((r) => r.tenant_id === tenant);
          });
        }),
      );
      for (const rows of results) for (const mine of rows) mine ? own++ : foreign++;
    }
    expect(foreign).to.equal(0);
    expect(own).to.equal(10_000);
  });
});
