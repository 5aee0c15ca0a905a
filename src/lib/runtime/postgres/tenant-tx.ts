import type { Pool, PoolClient } from 'pg';

import { assertTenantId } from '../../tenants/model.js';
import { TENANT_SETTING } from './migrations.js';

/**
 * Runs `work` in a transaction scoped to one tenant: `set_config(..., true)` sets the tenant for
 * this transaction only, so it ends with COMMIT or ROLLBACK and the connection goes back to the
 * pool with no tenant. (A session-level SET would stay on the connection and leak into the next
 * request that borrows it.) The id is checked first; it travels as a bind parameter.
 */
export async function withTenant<T>(
  pool: Pool,
  tenantId: string,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const id = assertTenantId(tenantId);
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query('SELECT set_config($1, $2, true)', [TENANT_SETTING, id]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    // A connection whose rollback failed is destroyed rather than handed to another tenant.
    client.release(broken);
  }
}
