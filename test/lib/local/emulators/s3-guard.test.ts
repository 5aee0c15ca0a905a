import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { expect } from 'chai';

import { guardS3, judgedS3Request } from '../../../../src/lib/local/emulators/s3-guard.js';
import type { StoredSession } from '../../../../src/lib/local/emulators/sts.js';
import { localPlatformConfig } from '../../../../src/lib/platform/config.js';
import { serializeSessionPolicy, tenantSessionPolicy } from '../../../../src/lib/runtime/policy.js';

const config = localPlatformConfig('local', 'us-east-1', { id: 'pool', clientId: 'client' });
const BUCKET = String(config.tenantDataBucket);

describe('the local S3 guard (session policies for s3rver)', () => {
  it('names the action and resource of path-style requests', () => {
    const judge = (method: string, url: string) => judgedS3Request({ method, url });
    expect(judge('GET', `/${BUCKET}/acme/a%20b.json`)).to.deep.equal({
      action: 's3:GetObject',
      resource: `arn:aws:s3:::${BUCKET}/acme/a b.json`,
    });
    expect(judge('HEAD', `/${BUCKET}/acme/x`).action).to.equal('s3:GetObject');
    expect(judge('PUT', `/${BUCKET}/acme/x?x-id=PutObject`).action).to.equal('s3:PutObject');
    expect(judge('DELETE', `/${BUCKET}/acme/x`).action).to.equal('s3:DeleteObject');
    expect(judge('GET', `/${BUCKET}?prefix=acme/`)).to.deep.equal({
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${BUCKET}`,
    });
    expect(judge('POST', `/${BUCKET}?delete`)).to.deep.equal({
      action: 's3:DeleteObject',
      resource: `arn:aws:s3:::${BUCKET}/*`,
    });
  });

  describe('guardS3', () => {
    let server: Server;
    let url: string;
    let passed: string[];
    let admitted: string[];
    const session: StoredSession = {
      accessKeyId: 'ASIAACME',
      sessionToken: 't',
      roleArn: config.tenantRuntimeRoleArn,
      roleSessionName: 'tenant-acme',
      assumedRoleArn: 'arn:aws:sts::000000000000:assumed-role/r/tenant-acme',
      assumedRoleId: 'AROA:tenant-acme',
      policy: serializeSessionPolicy(
        tenantSessionPolicy(
          { tenantId: 'acme', tier: 'pro', isolation: 'pool', region: 'us-east-1' },
          config,
        ),
      ),
      tags: [],
      transitiveTagKeys: [],
      packedPolicySize: 20,
      issuedAt: '2026-11-28T00:00:00Z',
      expiration: '2026-11-28T00:15:00Z',
    };

    before(async () => {
      server = createServer(
        guardS3(
          (req, res) => {
            passed.push(`${req.method} ${req.url}`);
            res.end();
          },
          {
            session: async (key) => (key === session.accessKeyId ? session : undefined),
            admit: (key) => admitted.push(key),
            now: () => Date.parse('2026-11-28T00:05:00Z'),
          },
        ),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(() => {
      passed = [];
      admitted = [];
    });

    const send = async (key: string, method: string, path: string) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `AWS4-HMAC-SHA256 Credential=${key}/20261128/us-east-1/s3/aws4_request, Signature=x`,
        },
      });
      return { status: response.status, body: await response.text() };
    };

    it('lets a session reach objects under its prefix, and admits its key to s3rver', async () => {
      expect((await send('ASIAACME', 'PUT', `/${BUCKET}/acme/a.json`)).status).to.equal(200);
      expect(passed).to.deep.equal([`PUT /${BUCKET}/acme/a.json`]);
      expect(admitted).to.deep.equal(['ASIAACME']);
    });

    it("refuses another tenant's prefix and a listing with S3's AccessDenied, passing nothing on", async () => {
      for (const [method, path] of [
        ['GET', `/${BUCKET}/acme2/a.json`],
        ['PUT', `/${BUCKET}/acme-2/a.json`],
        ['GET', `/${BUCKET}?prefix=acme/`],
      ] as const) {
        const answer = await send('ASIAACME', method, path);
        expect(answer.status, path).to.equal(403);
        expect(answer.body).to.include('<Code>AccessDenied</Code>');
      }
      expect(passed).to.deep.equal([]);
    });

    it('refuses a key STS never vended, and passes long-term keys unjudged', async () => {
      expect((await send('ASIAUNKNOWN', 'GET', `/${BUCKET}/acme/a.json`)).body).to.include(
        'InvalidAccessKeyId',
      );
      expect((await send('S3RVER', 'GET', `/${BUCKET}`)).status).to.equal(200);
      expect(passed).to.deep.equal([`GET /${BUCKET}`]);
    });
  });
});
