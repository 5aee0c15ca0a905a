import { createServer, type AddressInfo } from 'node:net';

import { DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { API_SERVICES, serveLocalApi } from '../../src/lib/local/api.js';
import { localClients, type StackInfo, type StackOwner } from '../../src/lib/local/stack.js';
import type { AwsClientFactory } from '../../src/lib/platform/clients.js';
import type { DocumentView, NoteView } from '../../src/lib/runtime/documents.js';
import type { RunningApi } from '../../src/lib/runtime/documents-server.js';
import { MAX_REQUEST_BYTES } from '../../src/lib/runtime/documents-server.js';
import type { Tenant } from '../../src/lib/tenants/model.js';
import { WRITER_DEADLINE_MS } from '../../src/lib/tenants/tenant-data.js';
import { run, spawnCli, tempHome, onboardTenants } from '../helpers/cli.js';

const REGION = 'us-east-1';
const PASSWORD = 'Local-Passw0rd!';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly json: unknown;
}

// The sample API end to end on the local stack (issue 7): cognito-local tokens, the authorizer,
// vended credentials from the STS emulator, DynamoDB (pooled and silo) and PostgreSQL with RLS.
// The tenants include a pair whose ids are prefixes of each other (acme, acme2).
describe('sample documents API (local stack, end to end)', function () {
  this.timeout(180_000);
  const { home, dispose } = tempHome('saasctl-api-');
  let owner: StackOwner;
  let info: StackInfo;
  let clients: AwsClientFactory;
  let api: RunningApi;
  const tokens: Record<string, string> = {};

  const call = async (
    tenantId: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer> => {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        ...(tenantId ? { authorization: `Bearer ${tokens[tenantId]}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      json: text ? (JSON.parse(text) as unknown) : undefined,
    };
  };

  /** The tenant's credentials as the authorizer vends them (`creds vend`). */
  async function vended(
    tenantId: string,
  ): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
    const vend = await run(['creds', 'vend', tenantId, '--reason', 'guard test', '--json'], home);
    expect(vend.exitCode, vend.stderr).to.equal(0);
    const { accessKeyId, secretAccessKey, sessionToken } = vend.json as Record<string, string>;
    return {
      accessKeyId: String(accessKeyId),
      secretAccessKey: String(secretAccessKey),
      sessionToken: String(sessionToken),
    };
  }

  /** A user of the tenant, made and signed in with saasctl's own commands. */
  async function login(tenantId: string): Promise<string> {
    const email = `dev@${tenantId}.test`;
    const created = await run(
      ['user', 'create', email, '--tenant', tenantId, '--password', PASSWORD, '--json'],
      home,
    );
    expect(created.exitCode, created.stderr).to.equal(0);
    const login = await run(['user', 'login', email, '--password', PASSWORD], home);
    expect(login.exitCode, login.stderr).to.equal(0);
    return login.stdout.trim();
  }

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: REGION });
    await onboardTenants(home, [
      ['acme', 'pro'],
      ['acme2', 'pro'],
      ['bigco', 'enterprise'],
    ]);
    info = await owner.ensure(API_SERVICES);
    clients = localClients(info.endpoints, REGION);
    for (const id of ['acme', 'acme2', 'bigco']) tokens[id] = await login(id);
    api = await serveLocalApi(info, { port: 0 });
  });
  after(async () => {
    await api?.close();
    clients?.destroy();
    await owner?.stop();
    dispose();
  });

  it('refuses a request without a token, or with a token that is not one of the pool (401)', async () => {
    const none = await call(undefined, 'GET', '/documents');
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer');
    tokens.forged = `${tokens.acme?.slice(0, -8)}AAAAAAAA`;
    expect((await call('forged', 'GET', '/documents')).status).to.equal(401);
  });

  it("creates, reads and lists a tenant's documents in its partition of the pooled table", async () => {
    const created = await call('acme', 'POST', '/documents', { title: 'Q3 plan', body: 'ship it' });
    expect(created.status).to.equal(201);
    const doc = created.json as DocumentView;
    expect(doc).to.include({ title: 'Q3 plan', body: 'ship it' });
    const got = await call('acme', 'GET', `/documents/${doc.documentId}`);
    expect(got.status).to.equal(200);
    expect(got.json).to.deep.equal(doc);
    const listed = (await call('acme', 'GET', '/documents')).json as { documents: DocumentView[] };
    expect(listed.documents.map((d) => d.documentId)).to.include(doc.documentId);
    const { Item } = await clients.dynamodb().send(
      new GetItemCommand({
        TableName: info.platform.tables.pooled,
        Key: { PK: { S: 'TENANT#acme' }, SK: { S: `DOC#${doc.documentId}` } },
      }),
    );
    expect(Item?.title?.S).to.equal('Q3 plan');
  });

  it("never lets tenant acme2 read, list or delete acme's documents (ids that are prefixes of each other)", async () => {
    const doc = (await call('acme', 'POST', '/documents', { title: 'secret', body: 'acme only' }))
      .json as DocumentView;
    expect((await call('acme2', 'GET', `/documents/${doc.documentId}`)).status).to.equal(404);
    expect((await call('acme2', 'DELETE', `/documents/${doc.documentId}`)).status).to.equal(404);
    const listed = (await call('acme2', 'GET', '/documents')).json as { documents: DocumentView[] };
    expect(listed.documents).to.deep.equal([]);
    // A cursor naming acme's document only moves acme2 within its own partition.
    const cursor = Buffer.from(doc.documentId).toString('base64url');
    const paged = (await call('acme2', 'GET', `/documents?cursor=${cursor}`)).json as {
      documents: DocumentView[];
    };
    expect(paged.documents).to.deep.equal([]);
    expect((await call('acme', 'GET', `/documents/${doc.documentId}`)).status, 'still there').to.equal(200);
    expect((await call('acme', 'DELETE', `/documents/${doc.documentId}`)).status).to.equal(204);
    expect((await call('acme', 'GET', `/documents/${doc.documentId}`)).status).to.equal(404);
  });

  it("keeps a silo tenant's documents in its own table, not the pooled one", async () => {
    const doc = (await call('bigco', 'POST', '/documents', { title: 'contract', body: 'silo' }))
      .json as DocumentView;
    expect((await call('bigco', 'GET', `/documents/${doc.documentId}`)).status).to.equal(200);
    const shown = await run(['tenant', 'show', 'bigco', '--json'], home);
    const { tenant } = shown.json as { tenant: Tenant };
    const key = { PK: { S: 'TENANT#bigco' }, SK: { S: `DOC#${doc.documentId}` } };
    const silo = await clients
      .dynamodb()
      .send(new GetItemCommand({ TableName: String(tenant.dataTable), Key: key }));
    expect(silo.Item?.title?.S).to.equal('contract');
    const pooled = await clients
      .dynamodb()
      .send(new GetItemCommand({ TableName: info.platform.tables.pooled, Key: key }));
    expect(pooled.Item).to.equal(undefined);
    expect((await call('acme', 'GET', `/documents/${doc.documentId}`)).status).to.equal(404);
  });

  it('pages through a list with the cursor it gives', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await call('acme2', 'POST', '/documents', { title: `page ${i}`, body: 'x' })).status).to.equal(
        201,
      );
    }
    const first = (await call('acme2', 'GET', '/documents?limit=2')).json as {
      documents: DocumentView[];
      cursor?: string;
    };
    expect(first.documents).to.have.length(2);
    expect(first.cursor).to.be.a('string');
    const second = (await call('acme2', 'GET', `/documents?limit=2&cursor=${first.cursor}`)).json as {
      documents: DocumentView[];
    };
    const titles = [...first.documents, ...second.documents].map((d) => d.title).sort();
    expect(titles).to.deep.equal(['page 0', 'page 1', 'page 2']);
  });

  it('keeps notes in PostgreSQL under row-level security: no tenant sees, or deletes, another one', async () => {
    const created = await call('acme', 'POST', '/notes', { body: 'call the bank', folder: 'todo' });
    expect(created.status).to.equal(201);
    const note = created.json as NoteView;
    expect(note).to.include({ body: 'call the bank', folder: 'todo' });
    expect((await call('acme', 'GET', `/notes/${note.noteId}`)).json).to.deep.equal(note);
    expect((await call('acme2', 'GET', `/notes/${note.noteId}`)).status).to.equal(404);
    expect((await call('acme2', 'DELETE', `/notes/${note.noteId}`)).status).to.equal(404);
    expect(((await call('acme2', 'GET', '/notes')).json as { notes: NoteView[] }).notes).to.deep.equal([]);
    const mine = (await call('acme', 'GET', '/notes')).json as { notes: NoteView[] };
    expect(mine.notes.map((n) => n.noteId)).to.deep.equal([note.noteId]);
    expect((await call('acme', 'DELETE', `/notes/${note.noteId}`)).status).to.equal(204);
  });

  it('answers bad requests with the rule they broke, and writes nothing', async () => {
    const before = ((await call('acme2', 'GET', '/documents?limit=100')).json as { documents: unknown[] })
      .documents;
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/documents', '{not json', 400, 'INVALID_JSON'],
      ['POST', '/documents', { body: 'no title' }, 400, 'INVALID_FIELD'],
      ['POST', '/documents', { title: 't', body: 'x'.repeat(MAX_REQUEST_BYTES) }, 413, 'PAYLOAD_TOO_LARGE'],
      ['GET', '/documents?limit=0', undefined, 400, 'INVALID_LIMIT'],
      ['GET', '/documents?cursor=bm90LWEtdXVpZA', undefined, 400, 'INVALID_CURSOR'],
      ['GET', '/documents/not-a-uuid', undefined, 404, 'DOCUMENT_NOT_FOUND'],
      ['GET', '/invoices', undefined, 404, 'ROUTE_NOT_FOUND'],
      ['PUT', '/documents', {}, 405, 'METHOD_NOT_ALLOWED'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const answer = await call('acme2', method, path, body);
      expect([answer.status, (answer.json as { code: string }).code], `${method} ${path}`).to.deep.equal([
        status,
        code,
      ]);
    }
    const after = ((await call('acme2', 'GET', '/documents?limit=100')).json as { documents: unknown[] })
      .documents;
    expect(after).to.have.length(before.length);
  });

  it('answers writes of a MIGRATING tenant 503 with Retry-After, while its reads go on', async () => {
    const doc = (await call('acme', 'POST', '/documents', { title: 'before', body: 'x' }))
      .json as DocumentView;
    const setStatus = (status: string) =>
      clients.documents().send(
        new UpdateCommand({
          TableName: info.platform.tables.controlPlane,
          Key: { PK: 'TENANT#acme', SK: 'PROFILE' },
          UpdateExpression: 'SET #s = :s',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': status },
        }),
      );
    await setStatus('MIGRATING');
    // A writer acts on a status read at most half its deadline old (WRITER_DEADLINE_MS): wait that out.
    await new Promise((resolve) => setTimeout(resolve, WRITER_DEADLINE_MS.local));
    try {
      const write = await call('acme', 'POST', '/documents', { title: 'during', body: 'x' });
      expect(write.status).to.equal(503);
      expect(write.headers.get('retry-after')).to.equal('5');
      expect((write.json as { code: string }).code).to.equal('TENANT_MIGRATING');
      expect((await call('acme', 'DELETE', `/documents/${doc.documentId}`)).status).to.equal(503);
      expect((await call('acme', 'GET', `/documents/${doc.documentId}`)).status).to.equal(200);
    } finally {
      await setStatus('ACTIVE');
      await new Promise((resolve) => setTimeout(resolve, WRITER_DEADLINE_MS.local));
    }
  });

  it("enforces the session policy on the local DynamoDB: a tenant's vended credentials reach only its partitions", async () => {
    const credentials = await vended('acme');
    const session = new DynamoDBClient({
      region: REGION,
      endpoint: info.endpoints.dynamodb,
      credentials,
      maxAttempts: 1,
    });
    const table = info.platform.tables.pooled;
    const denied = async (send: () => Promise<unknown>) =>
      send().then(
        () => 'allowed',
        (err: Error) => err.name,
      );
    try {
      const own = { PK: { S: 'TENANT#acme' }, SK: { S: 'DOC#none' } };
      expect(await denied(() => session.send(new GetItemCommand({ TableName: table, Key: own })))).to.equal(
        'allowed',
      );
      expect(
        await denied(() =>
          session.send(new GetItemCommand({ TableName: table, Key: { ...own, PK: { S: 'TENANT#acme#7' } } })),
        ),
      ).to.equal('allowed');
      for (const other of ['TENANT#acme2', 'TENANT#acme2#1', 'TENANT#acm', 'TENANT#bigco']) {
        expect(
          await denied(() =>
            session.send(new GetItemCommand({ TableName: table, Key: { ...own, PK: { S: other } } })),
          ),
          other,
        ).to.equal('AccessDeniedException');
      }
      expect(
        await denied(() =>
          session.send(
            new QueryCommand({
              TableName: table,
              KeyConditionExpression: 'PK = :pk',
              ExpressionAttributeValues: { ':pk': { S: 'TENANT#acme2' } },
            }),
          ),
        ),
      ).to.equal('AccessDeniedException');
      expect(await denied(() => session.send(new ScanCommand({ TableName: table })))).to.equal(
        'AccessDeniedException',
      );
      expect(
        await denied(() =>
          session.send(
            new GetItemCommand({
              TableName: info.platform.tables.controlPlane,
              Key: { PK: { S: 'TENANT#acme' }, SK: { S: 'PROFILE' } },
            }),
          ),
        ),
      ).to.equal('AccessDeniedException');
      const forged = new DynamoDBClient({
        region: REGION,
        endpoint: info.endpoints.dynamodb,
        credentials: { accessKeyId: 'ASIAFORGEDFORGED0000', secretAccessKey: 'x', sessionToken: 'y' },
        maxAttempts: 1,
      });
      const refused = await forged
        .send(new GetItemCommand({ TableName: table, Key: own }))
        .catch((err: Error) => err.name);
      forged.destroy();
      expect(refused).to.equal('UnrecognizedClientException');
    } finally {
      session.destroy();
    }
  });

  it("enforces the session policy on the local S3: a tenant's vended credentials reach only its prefix", async () => {
    const credentials = await vended('acme');
    const s3 = new S3Client({
      region: REGION,
      endpoint: info.endpoints.s3,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      credentials,
      maxAttempts: 1,
    });
    const Bucket = String(info.platform.tenantDataBucket);
    const outcome = (send: () => Promise<unknown>) =>
      send().then(
        () => 'allowed',
        (err: Error) => err.name,
      );
    try {
      expect(
        await outcome(() => s3.send(new PutObjectCommand({ Bucket, Key: 'acme/a.json', Body: '{}' }))),
      ).to.equal('allowed');
      expect(await outcome(() => s3.send(new GetObjectCommand({ Bucket, Key: 'acme/a.json' })))).to.equal(
        'allowed',
      );
      for (const Key of ['acme2/a.json', 'acme-2/a.json', 'acm/a.json', 'a.json']) {
        expect(await outcome(() => s3.send(new PutObjectCommand({ Bucket, Key, Body: '{}' }))), Key).to.equal(
          'AccessDenied',
        );
      }
      expect(await outcome(() => s3.send(new ListObjectsCommand({ Bucket })))).to.equal('AccessDenied');
      expect(await outcome(() => s3.send(new DeleteObjectCommand({ Bucket, Key: 'acme/a.json' })))).to.equal(
        'allowed',
      );
    } finally {
      s3.destroy();
    }
  });

  it('refuses a suspended tenant (403)', async () => {
    const suspended = await run(['tenant', 'suspend', 'acme2', '--reason', 'test', '--json'], home);
    expect(suspended.exitCode, suspended.stderr).to.equal(0);
    // A fresh server: the running one caches tenant records for up to 30 s, by design.
    const fresh = await serveLocalApi(info, { port: 0 });
    try {
      const response = await fetch(`${fresh.url}/documents`, {
        headers: { authorization: `Bearer ${tokens.acme2}` },
      });
      expect(response.status).to.equal(403);
      expect(((await response.json()) as { code: string }).code).to.equal('TENANT_NOT_ACTIVE');
    } finally {
      await fresh.close();
    }
  });
});

describe('local start serves the sample API', function () {
  this.timeout(180_000);
  const { home, dispose } = tempHome('saasctl-api-start-');
  after(async () => {
    await spawnCli(['local', 'stop'], home);
    dispose();
  });

  it('answers on the port asked for once `local start --detach` returns, and shows no database password', async () => {
    const port = await freePort();
    const started = await spawnCli(
      ['local', 'start', '--detach', '--json', '--api-port', String(port)],
      home,
    );
    expect(started.exitCode, started.stderr).to.equal(0);
    expect((started.json as { api?: string }).api).to.equal(`http://127.0.0.1:${port}`);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
    const unauthorized = await fetch(`http://127.0.0.1:${port}/documents`);
    expect(unauthorized.status).to.equal(401);
    const status = await spawnCli(['local', 'status'], home);
    expect(status.stdout).to.match(/postgres\s+postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/saasctl/);
    expect(status.stdout).to.match(new RegExp(`api\\s+http://127\\.0\\.0\\.1:${port}`));
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
