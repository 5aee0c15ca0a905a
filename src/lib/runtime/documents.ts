import { randomUUID } from 'node:crypto';

import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Pool } from 'pg';

import { SaasctlError, toSaasctlError } from '../cli/errors.js';
import type { PlatformConfig } from '../platform/config.js';
import { sdk } from '../platform/sdk.js';
import { keys } from '../tenants/keys.js';
import type { Tenant } from '../tenants/model.js';
import {
  MIGRATING_RETRY_AFTER_SECONDS,
  TenantDataWriter,
  type WriteContext,
} from '../tenants/tenant-data.js';
import { withTenant } from './postgres/tenant-tx.js';
import type { VendedCredentials } from './vending.js';

/** The credentials a data client signs with: a tenant's vended session. */
export type SessionCredentials = Pick<
  VendedCredentials,
  'accessKeyId' | 'secretAccessKey' | 'sessionToken' | 'expiration'
>;

/** Who is calling, as the authorizer established it from the token: never from the request. */
export interface ApiCaller {
  readonly tenantId: string;
  readonly subject: string;
  readonly credentials: SessionCredentials;
}

/**
 * The sample application API: documents (DynamoDB, the tenant's partition of the pooled table or
 * its silo table) and notes (PostgreSQL, the pooled RLS schema). Every data call is made with the
 * credentials the authorizer vended for the request's tenant (for DynamoDB) or inside a tenant
 * transaction as the app role (for PostgreSQL); the tenant comes from the verified token only,
 * never from the request. Writes go through the same writer as saasctl's own, so a tenant that is
 * MIGRATING is answered 503 with Retry-After, and writes during a migration's copy are journaled.
 *
 * Framework-free: `handle` takes a plain request and gives a plain response, served by the local
 * stack's HTTP server (documents-server.ts) and by the Lambda functions in infra/.
 */

export interface ApiRequest {
  readonly method: string;
  /** The path without the query string, e.g. `/documents/3f2c…`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON text, or empty for 204. */
  readonly body: string;
}

export interface DocumentsApiOptions {
  readonly config: Pick<PlatformConfig, 'tables'>;
  /**
   * The control-plane table with the API's own identity: the writer reads the tenant's status
   * there (consistent, at most WRITER_DEADLINE_MS old) and journals writes during a migration.
   */
  readonly controlPlane: DynamoDBDocumentClient;
  /** A DynamoDB client signing with the tenant's vended credentials, in the tenant's region. */
  readonly dataClient: (credentials: SessionCredentials, context: Pick<Tenant, 'region'>) => DynamoDBClient;
  /** The app role's pool (NOSUPERUSER NOBYPASSRLS); absent: the notes routes answer 503. */
  readonly database?: () => Promise<Pool>;
  readonly deadlineMs: number;
  /** Told of every failure answered 500 (whose details the caller never sees). */
  readonly onError?: (err: unknown) => void;
}

/** A document's body is at most this many characters (the item stays far below DynamoDB's 400 KB). */
export const MAX_DOCUMENT_BODY = 64 * 1024;
export const MAX_TITLE = 200;
export const MAX_NOTE_BODY = 16 * 1024;
export const DEFAULT_PAGE = 25;
export const MAX_PAGE = 100;
const DOCUMENT_PREFIX = 'DOC#';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export interface DocumentView {
  readonly documentId: string;
  readonly title: string;
  readonly body: string;
  readonly createdAt: string;
  readonly createdBy: string;
}

export interface NoteView {
  readonly noteId: string;
  readonly folder: string;
  readonly body: string;
  readonly createdAt: string;
}

/** Tenant sessions whose writer (and its status read) is kept, least recently used dropped first. */
const MAX_SESSIONS = 1_000;

export class DocumentsApi {
  private readonly writers = new Map<string, TenantDataWriter>();

  constructor(private readonly options: DocumentsApiOptions) {}

  /** Answers one authorized request; every failure becomes a JSON error with its HTTP status. */
  async handle(request: ApiRequest, auth: ApiCaller): Promise<ApiResponse> {
    try {
      return await this.route(request, auth);
    } catch (err) {
      const response = errorResponse(err);
      if (response.status === 500) this.options.onError?.(err);
      return response;
    }
  }

  private async route(request: ApiRequest, auth: ApiCaller): Promise<ApiResponse> {
    const [collection, id, ...rest] = request.path.split('/').filter(Boolean);
    const method = request.method.toUpperCase();
    if (rest.length > 0 || (collection !== 'documents' && collection !== 'notes')) {
      throw apiError(404, 'ROUTE_NOT_FOUND', `No route ${method} ${request.path}.`);
    }
    if (id !== undefined && !UUID.test(id)) {
      throw apiError(404, `${collection === 'documents' ? 'DOCUMENT' : 'NOTE'}_NOT_FOUND`, `No ${id}.`);
    }
    const documents = collection === 'documents';
    if (method === 'POST' && id === undefined) {
      const body = parseBody(request.body);
      return json(201, documents ? await this.createDocument(auth, body) : await this.createNote(auth, body));
    }
    if (method === 'GET' && id === undefined) {
      const page = pageSize(request.query?.limit);
      return json(
        200,
        documents
          ? await this.listDocuments(auth, page, request.query?.cursor)
          : await this.listNotes(auth, page),
      );
    }
    if (method === 'GET' && id !== undefined) {
      return json(200, documents ? await this.getDocument(auth, id) : await this.getNote(auth, id));
    }
    if (method === 'DELETE' && id !== undefined) {
      if (documents) await this.deleteDocument(auth, id);
      else await this.deleteNote(auth, id);
      return { status: 204, headers: {}, body: '' };
    }
    throw apiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${request.path}.`);
  }

  private async createDocument(auth: ApiCaller, body: Record<string, unknown>): Promise<DocumentView> {
    const title = textField(body, 'title', MAX_TITLE);
    const text = textField(body, 'body', MAX_DOCUMENT_BODY);
    const document: DocumentView = {
      documentId: randomUUID(),
      title,
      body: text,
      createdAt: new Date().toISOString(),
      createdBy: auth.subject,
    };
    await this.writer(auth).put(auth.tenantId, [toItem(auth.tenantId, document)]);
    return document;
  }

  private async getDocument(auth: ApiCaller, documentId: string): Promise<DocumentView> {
    const { client, table } = await this.reader(auth);
    const { Item } = await client.send(
      new (sdk.dynamodb().GetItemCommand)({
        TableName: table,
        Key: documentKey(auth.tenantId, documentId),
        ConsistentRead: true,
      }),
    );
    if (!Item) throw documentNotFound(documentId);
    return fromItem(Item);
  }

  private async listDocuments(
    auth: ApiCaller,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ documents: DocumentView[]; cursor?: string }> {
    const { client, table } = await this.reader(auth);
    const partition = keys.tenantPartition(auth.tenantId);
    // The cursor names a document id only; the key is rebuilt here, in the token's tenant.
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const page = await client.send(
      new (sdk.dynamodb().QueryCommand)({
        TableName: table,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
        ExpressionAttributeValues: { ':pk': { S: partition }, ':prefix': { S: DOCUMENT_PREFIX } },
        Limit: limit,
        ...(after ? { ExclusiveStartKey: documentKey(auth.tenantId, after) } : {}),
      }),
    );
    const documents = (page.Items ?? []).map(fromItem);
    const last = page.LastEvaluatedKey?.SK?.S;
    return {
      documents,
      ...(last ? { cursor: Buffer.from(last.slice(DOCUMENT_PREFIX.length)).toString('base64url') } : {}),
    };
  }

  private async deleteDocument(auth: ApiCaller, documentId: string): Promise<void> {
    // Read first: deleting nothing is a 404 to the caller, and BatchWriteItem cannot tell.
    await this.getDocument(auth, documentId);
    await this.writer(auth).delete(auth.tenantId, [
      { PK: keys.tenantPartition(auth.tenantId), SK: `${DOCUMENT_PREFIX}${documentId}` },
    ]);
  }

  private async createNote(auth: ApiCaller, body: Record<string, unknown>): Promise<NoteView> {
    const text = textField(body, 'body', MAX_NOTE_BODY);
    const folder = body.folder === undefined ? 'inbox' : textField(body, 'folder', MAX_TITLE);
    return this.inTenant(auth, async (client) => {
      // The folder by name, made on first use; tenant_id defaults to the transaction's tenant.
      await client.query(
        'INSERT INTO app.folders (name) VALUES ($1) ON CONFLICT (tenant_id, name) DO NOTHING',
        [folder],
      );
      const { rows } = await client.query<NoteRow>(
        `INSERT INTO app.notes (folder_id, body)
           SELECT folder_id, $2 FROM app.folders WHERE name = $1
         RETURNING note_id, $1::text AS folder, body, created_at`,
        [folder, text],
      );
      return noteView(rows[0] as NoteRow);
    });
  }

  private async listNotes(auth: ApiCaller, limit: number): Promise<{ notes: NoteView[] }> {
    return this.inTenant(auth, async (client) => {
      const { rows } = await client.query<NoteRow>(
        `SELECT n.note_id, f.name AS folder, n.body, n.created_at
           FROM app.notes n JOIN app.folders f USING (tenant_id, folder_id)
          ORDER BY n.created_at DESC, n.note_id LIMIT $1`,
        [limit],
      );
      return { notes: rows.map(noteView) };
    });
  }

  private async getNote(auth: ApiCaller, noteId: string): Promise<NoteView> {
    return this.inTenant(auth, async (client) => {
      const { rows } = await client.query<NoteRow>(
        `SELECT n.note_id, f.name AS folder, n.body, n.created_at
           FROM app.notes n JOIN app.folders f USING (tenant_id, folder_id)
          WHERE n.note_id = $1`,
        [noteId],
      );
      if (rows.length === 0) throw noteNotFound(noteId);
      return noteView(rows[0] as NoteRow);
    });
  }

  private async deleteNote(auth: ApiCaller, noteId: string): Promise<void> {
    await this.inTenant(auth, async (client) => {
      const { rowCount } = await client.query('DELETE FROM app.notes WHERE note_id = $1', [noteId]);
      if (!rowCount) throw noteNotFound(noteId);
    });
  }

  private async inTenant<T>(auth: ApiCaller, work: Parameters<typeof withTenant<T>>[2]): Promise<T> {
    if (!this.options.database) {
      throw apiError(
        503,
        'DATABASE_NOT_CONFIGURED',
        'This API has no PostgreSQL database: notes are unavailable.',
      );
    }
    return withTenant(await this.options.database(), auth.tenantId, work);
  }

  /**
   * The writer of a tenant's session: the tenant's status and placement from the control plane
   * (re-read once older than half the writer deadline, as every writer does), data with the
   * session's credentials. Kept per session, so requests close together share one status read.
   */
  private writer(auth: ApiCaller): TenantDataWriter {
    const key = `${auth.tenantId}\u0000${auth.credentials.accessKeyId}`;
    let writer = this.writers.get(key);
    if (writer) {
      this.writers.delete(key);
    } else {
      const credentials = auth.credentials;
      writer = new TenantDataWriter({
        documents: this.options.controlPlane,
        controlPlaneTable: this.options.config.tables.controlPlane,
        pooledTable: this.options.config.tables.pooled,
        dataClient: (context: WriteContext) => this.options.dataClient(credentials, context),
        deadlineMs: this.options.deadlineMs,
        // One item per request: a throttled write is retried briefly, then answered 503.
        retry: { maxRounds: 3 },
      });
      while (this.writers.size >= MAX_SESSIONS)
        this.writers.delete(this.writers.keys().next().value as string);
    }
    this.writers.set(key, writer);
    return writer;
  }

  /** Reads go where the tenant's data lives now, as the writer would write it. */
  private async reader(auth: ApiCaller): Promise<{ client: DynamoDBClient; table: string }> {
    const { context } = await this.writer(auth).context(auth.tenantId);
    return { client: this.options.dataClient(auth.credentials, context), table: context.table };
  }
}

interface NoteRow {
  readonly note_id: string;
  readonly folder: string;
  readonly body: string;
  readonly created_at: Date;
}

function noteView(row: NoteRow): NoteView {
  return { noteId: row.note_id, folder: row.folder, body: row.body, createdAt: row.created_at.toISOString() };
}

function documentKey(tenantId: string, documentId: string): Record<string, AttributeValue> {
  return { PK: { S: keys.tenantPartition(tenantId) }, SK: { S: `${DOCUMENT_PREFIX}${documentId}` } };
}

function toItem(tenantId: string, document: DocumentView): Record<string, AttributeValue> {
  return {
    ...documentKey(tenantId, document.documentId),
    documentId: { S: document.documentId },
    title: { S: document.title },
    body: { S: document.body },
    createdAt: { S: document.createdAt },
    createdBy: { S: document.createdBy },
  };
}

function fromItem(item: Record<string, AttributeValue>): DocumentView {
  return {
    documentId: item.documentId?.S ?? '',
    title: item.title?.S ?? '',
    body: item.body?.S ?? '',
    createdAt: item.createdAt?.S ?? '',
    createdBy: item.createdBy?.S ?? '',
  };
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(id)) throw apiError(400, 'INVALID_CURSOR', 'The cursor is not one this API gave.');
  return id;
}

function pageSize(limit: string | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  const value = Number(limit);
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE) {
    throw apiError(400, 'INVALID_LIMIT', `limit is a whole number from 1 to ${MAX_PAGE}.`);
  }
  return value;
}

function parseBody(body: string | undefined): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch {
    throw apiError(400, 'INVALID_JSON', 'The request body is not JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw apiError(400, 'INVALID_JSON', 'The request body is not a JSON object.');
  }
  return value as Record<string, unknown>;
}

function textField(body: Record<string, unknown>, name: string, max: number): string {
  const value = body[name];
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw apiError(400, 'INVALID_FIELD', `"${name}" is a non-empty string of at most ${max} characters.`);
  }
  return value;
}

function documentNotFound(documentId: string): SaasctlError {
  return apiError(404, 'DOCUMENT_NOT_FOUND', `No document ${documentId}.`);
}

function noteNotFound(noteId: string): SaasctlError {
  return apiError(404, 'NOTE_NOT_FOUND', `No note ${noteId}.`);
}

function apiError(httpStatus: number, code: string, message: string): SaasctlError {
  return new SaasctlError(code, message, { details: { httpStatus } });
}

function json(status: number, value: unknown): ApiResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

/** HTTP status of each runtime error code; anything unknown is a 500 that hides its message. */
const STATUS_OF: Readonly<Record<string, number>> = {
  UNAUTHORIZED: 401,
  TENANT_NOT_FOUND: 403,
  TENANT_NOT_ACTIVE: 403,
  TENANT_NOT_WRITABLE: 403,
  TENANT_MIGRATING: 503,
  // The session policy refused a data call: never expected, since keys come from the token.
  AWS_ACCESS_DENIED: 403,
  DYNAMODB_THROTTLED: 503,
};

/** An error as the API answers it: `{code, message}` with its status (and Retry-After on 503). */
export function errorResponse(err: unknown): ApiResponse {
  const error = toSaasctlError(err);
  const declared = (error.details as { httpStatus?: unknown } | undefined)?.httpStatus;
  const status = typeof declared === 'number' ? declared : (STATUS_OF[error.code] ?? 500);
  const body =
    status === 500
      ? { code: 'INTERNAL', message: 'The request failed; see the server log.' }
      : { code: error.code, message: error.message };
  return {
    status,
    headers: {
      'content-type': 'application/json',
      ...(status === 503 ? { 'retry-after': String(MIGRATING_RETRY_AFTER_SECONDS) } : {}),
    },
    body: JSON.stringify(body),
  };
}
