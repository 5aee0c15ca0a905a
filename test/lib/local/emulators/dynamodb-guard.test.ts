import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { expect } from 'chai';

import { guardDynamoDb, judgedRequests } from '../../../../src/lib/local/emulators/dynamodb-guard.js';
import type { StoredSession } from '../../../../src/lib/local/emulators/sts.js';
import { localPlatformConfig } from '../../../../src/lib/platform/config.js';
import { serializeSessionPolicy, tenantSessionPolicy } from '../../../../src/lib/runtime/policy.js';

const config = localPlatformConfig('local', 'us-east-1', { id: 'pool', clientId: 'client' });
const TABLE = config.tables.pooled;
const ARN = `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}`;
const NOW = Date.parse('2026-11-28T00:00:00Z');
const session = (overrides: Partial<StoredSession> = {}): StoredSession => ({
  accessKeyId: 'ASIAACME',
  sessionToken: 'token',
  roleArn: config.tenantRuntimeRoleArn,
  roleSessionName: 'tenant-acme',
  assumedRoleArn: 'arn:aws:sts::000000000000:assumed-role/saasctl-local-tenant-runtime/tenant-acme',
  assumedRoleId: 'AROA:tenant-acme',
  policy: serializeSessionPolicy(
    tenantSessionPolicy({ tenantId: 'acme', tier: 'pro', isolation: 'pool', region: 'us-east-1' }, config),
  ),
  tags: [{ Key: 'tenantId', Value: 'acme' }],
  transitiveTagKeys: [],
  packedPolicySize: 20,
  issuedAt: '2026-11-27T23:50:00Z',
  expiration: '2026-11-28T00:05:00Z',
  ...overrides,
});
const headers = (operation: string) => ({ 'x-amz-target': `DynamoDB_20120810.${operation}` });
const judge = (operation: string, input: object) =>
  judgedRequests({ headers: headers(operation) }, Buffer.from(JSON.stringify(input)), {
    region: 'us-east-1',
    accountId: '000000000000',
  });

describe('the local DynamoDB guard (session policies for dynalite)', () => {
  describe('judgedRequests', () => {
    it('reads the leading keys of item operations from PK', () => {
      const key = { PK: { S: 'TENANT#acme' }, SK: { S: 'DOC#1' } };
      expect(judge('GetItem', { TableName: TABLE, Key: key })).to.deep.equal([
        { action: 'dynamodb:GetItem', resource: ARN, leadingKeys: ['TENANT#acme'] },
      ]);
      expect(judge('PutItem', { TableName: TABLE, Item: key })[0]?.leadingKeys).to.deep.equal([
        'TENANT#acme',
      ]);
    });

    it('reads every key of a batch, per table', () => {
      expect(
        judge('BatchWriteItem', {
          RequestItems: {
            [TABLE]: [
              { PutRequest: { Item: { PK: { S: 'TENANT#acme' } } } },
              { DeleteRequest: { Key: { PK: { S: 'TENANT#acme2' } } } },
            ],
            other: [{ PutRequest: { Item: { PK: { S: 'TENANT#acme' } } } }],
          },
        }),
      ).to.deep.equal([
        { action: 'dynamodb:BatchWriteItem', resource: ARN, leadingKeys: ['TENANT#acme', 'TENANT#acme2'] },
        {
          action: 'dynamodb:BatchWriteItem',
          resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/other',
          leadingKeys: ['TENANT#acme'],
        },
      ]);
    });

    it("reads a Query's partition key from its key condition, through name placeholders, and its index", () => {
      expect(
        judge('Query', {
          TableName: TABLE,
          IndexName: 'gsi1',
          KeyConditionExpression: '#p = :p AND begins_with(SK, :s)',
          ExpressionAttributeNames: { '#p': 'PK' },
          ExpressionAttributeValues: { ':p': { S: 'TENANT#acme' }, ':s': { S: 'DOC#' } },
        }),
      ).to.deep.equal([
        { action: 'dynamodb:Query', resource: `${ARN}/index/gsi1`, leadingKeys: ['TENANT#acme'] },
      ]);
    });

    it('names PartiQL by its verb, and gives Scan no leading keys', () => {
      expect(judge('ExecuteStatement', { Statement: 'DELETE FROM x' })[0]?.action).to.equal(
        'dynamodb:PartiQLDelete',
      );
      expect(judge('Scan', { TableName: TABLE })).to.deep.equal([
        { action: 'dynamodb:Scan', resource: ARN, leadingKeys: [] },
      ]);
    });
  });

  describe('guardDynamoDb', () => {
    let server: Server;
    let url: string;
    let passed: { body: string; authorization?: string }[];
    const sessions: Record<string, StoredSession> = {};

    before(async () => {
      const inner = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          passed.push({
            body,
            ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          });
          res.end('{}');
        });
      };
      server = createServer(
        guardDynamoDb(inner, {
          region: 'us-east-1',
          accountId: '000000000000',
          session: async (key) => sessions[key],
          now: () => NOW,
        }),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      sessions.ASIAACME = session();
      sessions.ASIAOLD = session({ accessKeyId: 'ASIAOLD', expiration: '2026-11-27T23:59:00Z' });
      // The policy with its delimiter taken out: TENANT#acme* matches TENANT#acme2.
      const broken = session().policy?.replace('"TENANT#acme#*"', '"TENANT#acme*"');
      sessions.ASIABROKEN = session({ accessKeyId: 'ASIABROKEN', ...(broken ? { policy: broken } : {}) });
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(() => {
      passed = [];
    });

    const send = async (key: string, operation: string, input: object) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          ...headers(operation),
          'content-type': 'application/x-amz-json-1.0',
          authorization: `AWS4-HMAC-SHA256 Credential=${key}/20261128/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x`,
        },
        body: JSON.stringify(input),
      });
      return {
        status: response.status,
        body: (await response.json()) as { __type?: string; message?: string },
      };
    };

    it("passes a tenant session's request on its own partition to dynalite, body intact", async () => {
      const input = { TableName: TABLE, Key: { PK: { S: 'TENANT#acme#3' }, SK: { S: 'x' } } };
      expect((await send('ASIAACME', 'GetItem', input)).status).to.equal(200);
      expect(passed.map((p) => JSON.parse(p.body))).to.deep.equal([input]);
    });

    it("refuses another tenant's partition with AccessDeniedException, and dynalite never sees it", async () => {
      const answer = await send('ASIAACME', 'GetItem', {
        TableName: TABLE,
        Key: { PK: { S: 'TENANT#acme2' } },
      });
      expect(answer.status).to.equal(400);
      expect(answer.body.__type).to.equal('com.amazon.coral.service#AccessDeniedException');
      expect(answer.body.message).to.include('dynamodb:GetItem');
      expect(passed).to.deep.equal([]);
    });

    it('judges by the session policy itself: without the delimiter, acme2 gets through', async () => {
      const input = { TableName: TABLE, Key: { PK: { S: 'TENANT#acme2' } } };
      expect((await send('ASIABROKEN', 'GetItem', input)).status).to.equal(200);
      expect((await send('ASIAACME', 'GetItem', input)).status).to.equal(400);
      expect(passed).to.have.length(1);
    });

    it('refuses a batch with one foreign key in it, and a Scan', async () => {
      const batch = {
        RequestItems: {
          [TABLE]: [
            { PutRequest: { Item: { PK: { S: 'TENANT#acme' } } } },
            { PutRequest: { Item: { PK: { S: 'TENANT#acme2' } } } },
          ],
        },
      };
      expect((await send('ASIAACME', 'BatchWriteItem', batch)).status).to.equal(400);
      expect((await send('ASIAACME', 'Scan', { TableName: TABLE })).status).to.equal(400);
      expect(passed).to.deep.equal([]);
    });

    it('refuses an expired session and a key STS never vended; passes long-term keys unjudged', async () => {
      const input = { TableName: TABLE, Key: { PK: { S: 'TENANT#acme' } } };
      expect((await send('ASIAOLD', 'GetItem', input)).body.__type).to.match(/#ExpiredTokenException$/);
      expect((await send('ASIAUNKNOWN', 'GetItem', input)).body.__type).to.match(
        /#UnrecognizedClientException$/,
      );
      expect((await send('S3RVER', 'Scan', { TableName: TABLE })).status).to.equal(200);
      expect(passed).to.have.length(1);
    });
  });
});
