import { SaasctlError } from '../cli/errors.js';
import type { Reporter } from '../cli/reporter.js';
import { localAuthorizerConfig } from '../identity/issuer.js';
import { TenantAuthorizer } from '../runtime/authorizer.js';
import { DocumentsApi } from '../runtime/documents.js';
import { startApiServer, type ApiServerOptions, type RunningApi } from '../runtime/documents-server.js';
import { SessionClients } from '../runtime/session-clients.js';
import { CachedTenantReader } from '../runtime/tenant-access.js';
import { TokenVendor } from '../runtime/vending.js';
import { TenantCatalog } from '../tenants/catalog.js';
import { WRITER_DEADLINE_MS } from '../tenants/tenant-data.js';
import { appConnectionString } from './postgres.js';
import { serviceDirectory, type LocalService } from './services.js';
import { localClients, type StackInfo, type StackOwner } from './stack.js';

/**
 * The sample API as `local start` serves it: the authorizer (cognito-local's tokens, the
 * catalog, the STS emulator's vended credentials) in front of the documents API (DynamoDB with
 * those credentials, PostgreSQL as the app role), on 127.0.0.1.
 */

/** What the API needs running: the catalog and data, identity, token vending, the notes database. */
export const API_SERVICES: readonly LocalService[] = ['dynamodb', 'cognito', 'sts', 'postgres'];

export interface LocalApiOptions {
  readonly port: number;
  readonly onRequest?: ApiServerOptions['onRequest'];
  readonly onError?: (err: unknown) => void;
  readonly warn?: (message: string) => void;
}

export async function serveLocalApi(info: StackInfo, options: LocalApiOptions): Promise<RunningApi> {
  const missing = API_SERVICES.filter((service) => !info.endpoints[service]);
  if (missing.length > 0) {
    throw new SaasctlError('API_SERVICES_MISSING', `The sample API needs ${missing.join(', ')} running.`);
  }
  const { platform: config } = info;
  const endpoints = info.endpoints as Required<typeof info.endpoints>;
  const clients = localClients(info.endpoints, config.region);
  const sessions = new SessionClients(clients);
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: await appConnectionString(serviceDirectory(info.home, 'postgres'), endpoints.postgres),
    max: 8,
  });
  const authorizer = new TenantAuthorizer({
    // cognito-local's issuer and keys; the tenant comes from the access token's tenant group, as
    // cognito-local adds the trigger's claims to ID tokens only.
    ...(await localAuthorizerConfig(info)),
    tenants: new CachedTenantReader(new TenantCatalog(clients.documents(), config.tables.controlPlane)),
    vendor: new TokenVendor({
      sts: () => clients.sts(),
      roleArn: config.tenantRuntimeRoleArn,
      ...(options.warn ? { warn: options.warn } : {}),
    }),
    platform: config,
  });
  const api = new DocumentsApi({
    config,
    controlPlane: clients.documents(),
    dataClient: (credentials, tenant) => sessions.dynamodb(credentials, tenant.region),
    database: async () => pool,
    deadlineMs: WRITER_DEADLINE_MS.local,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  const server = await startApiServer({
    api,
    authorize: (header) => authorizer.authorize(header),
    port: options.port,
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await pool.end();
      sessions.destroy();
      clients.destroy();
    },
  };
}

/**
 * The sample API of a `local start` stack: starts the services it needs, serves it, and records
 * its address in `stack.json`. On failure the stack is stopped: `local start` never leaves a
 * stack up without the API it was asked to serve. Requests and failures go to the reporter.
 */
export async function serveStackApi(
  owner: StackOwner,
  port: number,
  reporter: Reporter,
): Promise<RunningApi> {
  try {
    const api = await serveLocalApi(await owner.ensure(API_SERVICES), {
      port,
      onRequest: (r) => reporter.info(`api: ${r.method} ${r.path} ${r.status} ${r.ms.toFixed(1)} ms`),
      onError: (err) => reporter.warn(`api: ${err instanceof Error ? err.stack : String(err)}`),
      warn: (message) => reporter.warn(`api: ${message}`),
    });
    await owner.announceApi(api.url);
    return api;
  } catch (err) {
    await owner.stop();
    throw err;
  }
}
