import { createRequire } from 'node:module';

import pg from 'pg';

import { migrate } from '../../src/lib/runtime/postgres/migrations.js';
import { requiredEnv } from './platform.js';

/**
 * The custom resource that applies the pooled database's row-level-security migrations
 * (src/lib/runtime/postgres/migrations.ts) on every deploy: as the cluster's owner, it creates or
 * updates the NOSUPERUSER NOBYPASSRLS app role with the app secret's password and applies the
 * migrations not applied yet. Delete does nothing: the schema goes with the cluster.
 */
interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
}

interface SecretsManager {
  send(command: unknown): Promise<{ SecretString?: string }>;
}
interface SecretsManagerModule {
  SecretsManagerClient: new (config: { region?: string }) => SecretsManager;
  GetSecretValueCommand: new (input: { SecretId: string }) => unknown;
}

// The runtime's SDK, like src/lib/platform/sdk.ts: the package is not bundled.
const requireCjs = createRequire(import.meta.url);

export async function handler(
  event: CustomResourceEvent,
): Promise<{ PhysicalResourceId: string; Data?: Record<string, string> }> {
  const physicalResourceId = event.PhysicalResourceId ?? 'saasctl-rls-migrations';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalResourceId };
  const sm = requireCjs('@aws-sdk/client-secrets-manager') as SecretsManagerModule;
  const client = new sm.SecretsManagerClient({ region: process.env.AWS_REGION });
  const secret = async (id: string): Promise<Record<string, string>> => {
    const { SecretString } = await client.send(new sm.GetSecretValueCommand({ SecretId: id }));
    return JSON.parse(SecretString ?? '{}') as Record<string, string>;
  };
  const owner = await secret(requiredEnv('SAASCTL_DB_OWNER_SECRET'));
  const app = await secret(requiredEnv('SAASCTL_DB_APP_SECRET'));
  const pool = new pg.Pool({
    host: owner.host,
    port: Number(owner.port),
    user: owner.username,
    password: owner.password,
    database: owner.dbname ?? 'postgres',
    // TLS verified against the RDS CAs (NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem, set by the stack).
    ssl: { rejectUnauthorized: true },
    max: 1,
  });
  try {
    const applied = await migrate(pool, String(app.password));
    return { PhysicalResourceId: physicalResourceId, Data: { applied: applied.join(',') } };
  } finally {
    await pool.end();
  }
}
