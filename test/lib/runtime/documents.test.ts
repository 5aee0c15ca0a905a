import {
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { localPlatformConfig } from '../../../src/lib/platform/config.js';
import {
  DocumentsApi,
  type ApiCaller,
  type ApiRequest,
  type SessionCredentials,
} from '../../../src/lib/runtime/documents.js';
import { ddb, documentClient } from '../helpers/aws.js';

const config = localPlatformConfig('dev', 'us-east-1', { id: 'pool', clientId: 'client' });
const POOLED = config.tables.pooled;
const CONTROL = config.tables.controlPlane;
const DOC_ID = '0b7e2f5c-1d3a-4c8e-9f10-2a3b4c5d6e7f';
const caller: ApiCaller = {
  tenantId: 'acme',
  subject: 'user-1',
  credentials: {
    accessKeyId: 'ASIAACME',
    secretAccessKey: 'secret',
    sessionToken: 'token',
    expiration: '2026-11-28T00:15:00.000Z',
  },
};

describe('DocumentsApi (the sample API over DynamoDB, with vended credentials)', () => {
  let data: AwsClientStub<DynamoDBClient>;
  let used: { credentials: SessionCredentials; region: string }[];
  let failures: unknown[];

  const api = (): DocumentsApi =>
    new DocumentsApi({
      config,
      controlPlane: documentClient(),
      dataClient: (credentials, tenant) => {
        used.push({ credentials, region: tenant.region });
        return new DynamoDBClient({ region: tenant.region });
      },
      deadlineMs: 250,
      onError: (err) => failures.push(err),
    });
  const call = (request: ApiRequest) => api().handle(request, caller);
  const tenantRecord = (extra: Record<string, unknown> = {}) =>
    ddb
      .on(GetCommand, { TableName: CONTROL, Key: { PK: 'TENANT#acme', SK: 'PROFILE' } })
      .resolves({ Item: { status: 'ACTIVE', isolation: 'pool', region: 'eu-west-1', ...extra } });
  const storedItem = {
    PK: { S: 'TENANT#acme' },
    SK: { S: `DOC#${DOC_ID}` },
    documentId: { S: DOC_ID },
    title: { S: 'Plan' },
    body: { S: 'text' },
    createdAt: { S: '2026-11-27T10:00:00.000Z' },
    createdBy: { S: 'user-1' },
  };

  before(() => {
    data = mockClient(DynamoDBClient);
  });
  after(() => data.restore());
  beforeEach(() => {
    ddb.reset();
    data.reset();
    used = [];
    failures = [];
    tenantRecord();
  });

  it("creates a document in the caller's partition with one BatchWriteItem, signed with its credentials", async () => {
    data.on(BatchWriteItemCommand).resolves({});
    const response = await call({
      method: 'POST',
      path: '/documents',
      body: '{"title":"Plan","body":"text"}',
    });
    expect(response.status).to.equal(201);
    const created = JSON.parse(response.body) as { documentId: string; createdAt: string };
    const writes = data.commandCalls(BatchWriteItemCommand);
    expect(writes).to.have.length(1);
    expect(writes[0]?.args[0].input).to.deep.equal({
      RequestItems: {
        [POOLED]: [
          {
            PutRequest: {
              Item: {
                PK: { S: 'TENANT#acme' },
                SK: { S: `DOC#${created.documentId}` },
                documentId: { S: created.documentId },
                title: { S: 'Plan' },
                body: { S: 'text' },
                createdAt: { S: created.createdAt },
                createdBy: { S: 'user-1' },
              },
            },
          },
        ],
      },
    });
    expect(used).to.deep.equal([{ credentials: caller.credentials, region: 'eu-west-1' }]);
  });

  it('reads a document with a consistent GetItem on its own key, and answers 404 for a missing one', async () => {
    data.on(GetItemCommand).resolvesOnce({ Item: storedItem }).resolvesOnce({});
    const found = await call({ method: 'GET', path: `/documents/${DOC_ID}` });
    expect(found.status).to.equal(200);
    expect(JSON.parse(found.body)).to.deep.equal({
      documentId: DOC_ID,
      title: 'Plan',
      body: 'text',
      createdAt: '2026-11-27T10:00:00.000Z',
      createdBy: 'user-1',
    });
    expect(data.commandCalls(GetItemCommand)[0]?.args[0].input).to.deep.equal({
      TableName: POOLED,
      Key: { PK: { S: 'TENANT#acme' }, SK: { S: `DOC#${DOC_ID}` } },
      ConsistentRead: true,
    });
    const missing = await call({ method: 'GET', path: `/documents/${DOC_ID}` });
    expect([missing.status, JSON.parse(missing.body).code]).to.deep.equal([404, 'DOCUMENT_NOT_FOUND']);
  });

  it('lists with a Query on the partition, rebuilding the start key from the cursor in the caller’s tenant', async () => {
    data
      .on(QueryCommand)
      .resolves({ Items: [storedItem], LastEvaluatedKey: { PK: storedItem.PK, SK: storedItem.SK } });
    const cursor = Buffer.from(DOC_ID).toString('base64url');
    const response = await call({ method: 'GET', path: '/documents', query: { limit: '1', cursor } });
    expect(response.status).to.equal(200);
    expect(JSON.parse(response.body).cursor).to.equal(cursor);
    expect(data.commandCalls(QueryCommand)[0]?.args[0].input).to.deep.equal({
      TableName: POOLED,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': { S: 'TENANT#acme' }, ':prefix': { S: 'DOC#' } },
      Limit: 1,
      ExclusiveStartKey: { PK: { S: 'TENANT#acme' }, SK: { S: `DOC#${DOC_ID}` } },
    });
  });

  it('deletes after reading, with a DeleteRequest on the same key; a missing document is 404 and nothing is written', async () => {
    data.on(GetItemCommand).resolvesOnce({ Item: storedItem }).resolvesOnce({});
    data.on(BatchWriteItemCommand).resolves({});
    expect((await call({ method: 'DELETE', path: `/documents/${DOC_ID}` })).status).to.equal(204);
    expect(data.commandCalls(BatchWriteItemCommand)[0]?.args[0].input).to.deep.equal({
      RequestItems: {
        [POOLED]: [{ DeleteRequest: { Key: { PK: { S: 'TENANT#acme' }, SK: { S: `DOC#${DOC_ID}` } } } }],
      },
    });
    expect((await call({ method: 'DELETE', path: `/documents/${DOC_ID}` })).status).to.equal(404);
    expect(data.commandCalls(BatchWriteItemCommand)).to.have.length(1);
  });

  it("uses a silo tenant's own table", async () => {
    ddb.reset();
    tenantRecord({ isolation: 'silo', dataTable: 'saasctl-dev-tenant-acme' });
    data.on(GetItemCommand).resolves({ Item: storedItem });
    await call({ method: 'GET', path: `/documents/${DOC_ID}` });
    expect(data.commandCalls(GetItemCommand)[0]?.args[0].input.TableName).to.equal('saasctl-dev-tenant-acme');
  });

  it('refuses writes of a MIGRATING tenant with 503 and Retry-After, writing nothing', async () => {
    ddb.reset();
    tenantRecord({ status: 'MIGRATING' });
    const response = await call({ method: 'POST', path: '/documents', body: '{"title":"t","body":"b"}' });
    expect(response.status).to.equal(503);
    expect(response.headers['retry-after']).to.equal('5');
    expect(JSON.parse(response.body).code).to.equal('TENANT_MIGRATING');
    expect(data.commandCalls(BatchWriteItemCommand)).to.have.length(0);
  });

  it('answers an unexpected failure 500 without its details, and reports it to onError', async () => {
    data.on(GetItemCommand).rejects(new Error('socket hang up at 10.0.0.7'));
    const response = await call({ method: 'GET', path: `/documents/${DOC_ID}` });
    expect(response.status).to.equal(500);
    expect(response.body).to.not.include('10.0.0.7');
    expect(failures).to.have.length(1);
  });

  it('answers the notes routes 503 when the API has no database', async () => {
    const response = await call({ method: 'GET', path: '/notes' });
    expect([response.status, JSON.parse(response.body).code]).to.deep.equal([503, 'DATABASE_NOT_CONFIGURED']);
  });

  for (const [what, request, status, code] of [
    ['a body that is not JSON', { method: 'POST', path: '/documents', body: '{' }, 400, 'INVALID_JSON'],
    ['a JSON array', { method: 'POST', path: '/documents', body: '[]' }, 400, 'INVALID_JSON'],
    [
      'an empty title',
      { method: 'POST', path: '/documents', body: '{"title":" ","body":"b"}' },
      400,
      'INVALID_FIELD',
    ],
    ['a limit of 101', { method: 'GET', path: '/documents', query: { limit: '101' } }, 400, 'INVALID_LIMIT'],
    [
      'a forged cursor',
      { method: 'GET', path: '/documents', query: { cursor: 'VEVOQU5UI2JldGE' } },
      400,
      'INVALID_CURSOR',
    ],
    ['an id that is not a UUID', { method: 'GET', path: '/documents/..%2Fx' }, 404, 'DOCUMENT_NOT_FOUND'],
    ['an unknown collection', { method: 'GET', path: '/tenants' }, 404, 'ROUTE_NOT_FOUND'],
    ['a nested path', { method: 'GET', path: `/documents/${DOC_ID}/raw` }, 404, 'ROUTE_NOT_FOUND'],
    ['PATCH', { method: 'PATCH', path: `/documents/${DOC_ID}` }, 405, 'METHOD_NOT_ALLOWED'],
  ] as const) {
    it(`refuses ${what} (${status} ${code}) before any AWS call`, async () => {
      const response = await call(request as ApiRequest);
      expect([response.status, JSON.parse(response.body).code]).to.deep.equal([status, code]);
      expect(data.calls()).to.have.length(0);
    });
  }
});
