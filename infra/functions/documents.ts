import type { Pool } from 'pg';
import pg from 'pg';

import { DocumentsApi, errorResponse, type ApiCaller } from '../../src/lib/runtime/documents.js';
import { SessionClients } from '../../src/lib/runtime/session-clients.js';
import { WRITER_DEADLINE_MS } from '../../src/lib/tenants/tenant-data.js';
import { lambdaPlatform } from './platform.js';

/**
 * The sample application API (documents in DynamoDB, notes in PostgreSQL; issue 7) behind the
 * HTTP API's authorizer. The logic is src/lib/runtime/documents.ts, the same the local stack
 * serves; this entry point maps API Gateway's payload 2.0 to it. Data is touched only with the
 * tenant-scoped credentials the authorizer vended (requestContext.authorizer.lambda), never with
 * this function's role, which reads the tenant's status and writes migration journal entries in
 * the control plane, and holds the app role's database secret.
 */

interface HttpApiEvent {
  readonly rawPath: string;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: {
    readonly http: { readonly method: string };
    readonly authorizer?: { readonly lambda?: Readonly<Record<string, string | undefined>> };
  };
}

interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

let api: Promise<DocumentsApi> | undefined;

export async function handler(event: HttpApiEvent): Promise<HttpResponse> {
  try {
    const caller = callerOf(event);
    api ??= build().catch((err: unknown) => {
      api = undefined; // a failed cold start is retried by the next invocation
      throw err;
    });
    const response = await (
      await api
    ).handle(
      {
        method: event.requestContext.http.method,
        path: event.rawPath,
        query: event.queryStringParameters ?? {},
        ...(event.body === undefined
          ? {}
          : {
              body: event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body,
            }),
      },
      caller,
    );
    return { statusCode: response.status, headers: response.headers, body: response.body };
  } catch (err) {
    logError(err);
    const response = errorResponse(err);
    return { statusCode: response.status, headers: response.headers, body: response.body };
  }
}

/** The caller the authorizer established; a route without it is a deployment error, not a 401. */
export function callerOf(event: HttpApiEvent): ApiCaller {
  const context = event.requestContext.authorizer?.lambda ?? {};
  const { tenantId, subject, accessKeyId, secretAccessKey, sessionToken, expiration } = context;
  if (!tenantId || !accessKeyId || !secretAccessKey || !sessionToken || !expiration) {
    throw new Error(
      'The route has no tenant authorizer context: every documents route needs the authorizer.',
    );
  }
  return {
    tenantId,
    subject: subject ?? '',
    credentials: { accessKeyId, secretAccessKey, sessionToken, expiration },
  };
}

async function build(): Promise<DocumentsApi> {
  const platform = await lambdaPlatform();
  const sessions = new SessionClients(platform.clients);
  let pool: Pool | undefined;
  return new DocumentsApi({
    config: platform.config,
    controlPlane: platform.clients.documents(),
    dataClient: (credentials, tenant) => sessions.dynamodb(credentials, tenant.region),
    database: async () => {
      // One connection per container: a Lambda serves one request at a time.
      if (!pool) {
        const { app } = await platform.database();
        if (!app) throw new Error('The function has no app role connection (SAASCTL_DB_APP_SECRET).');
        pool = new pg.Pool({ connectionString: app, max: 1 });
      }
      return pool;
    },
    deadlineMs: WRITER_DEADLINE_MS.aws,
    onError: logError,
  });
}

/** A failure answered 500 goes to the function's log (CloudWatch), never to the caller. */
function logError(err: unknown): void {
  // eslint-disable-next-line no-console -- a Lambda's log is its console
  console.error(err);
}
