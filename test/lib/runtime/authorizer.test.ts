import { createHmac, createSign, generateKeyPairSync, type JsonWebKey } from 'node:crypto';

import { expect } from 'chai';

import { localPlatformConfig } from '../../../src/lib/platform/config.js';
import { cognitoIssuer, TenantAuthorizer } from '../../../src/lib/runtime/authorizer.js';
import type { PolicyTenant } from '../../../src/lib/runtime/policy.js';
import type { VendedCredentials } from '../../../src/lib/runtime/vending.js';
import type { Tenant, TenantStatus } from '../../../src/lib/tenants/model.js';
import { rejectionOf } from '../helpers/aws.js';

const POOL = 'us-east-1_AbCdEf123';
const ISSUER = cognitoIssuer('us-east-1', POOL);
const CLIENT = 'app-client-1';
const KID = 'key-1';
const config = localPlatformConfig('dev', 'us-east-1', { id: POOL, clientId: CLIENT });

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicJwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
const jwks = {
  keys: [
    {
      ...publicJwk,
      kid: KID,
      alg: 'RS256',
      use: 'sig',
      kty: 'RSA' as const,
      n: String(publicJwk.n),
      e: String(publicJwk.e),
    },
  ],
};

const b64 = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function sign(payload: object, header: object = { alg: 'RS256', kid: KID, typ: 'JWT' }): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: 'user-1',
    iss: ISSUER,
    client_id: CLIENT,
    token_use: 'access',
    scope: 'aws.cognito.signin.user.admin',
    iat: now,
    auth_time: now,
    exp: now + 3600,
    tenantId: 'acme',
    tier: 'pro',
    tenantStatus: 'ACTIVE',
    ...overrides,
  };
}

function tenant(status: TenantStatus = 'ACTIVE', tenantId = 'acme'): Tenant {
  return {
    tenantId,
    name: tenantId,
    tier: 'pro',
    isolation: 'pool',
    status,
    region: 'us-east-1',
    adminEmail: `a@${tenantId}.test`,
    version: 1,
    createdAt: '2026-11-01T00:00:00Z',
    updatedAt: '2026-11-01T00:00:00Z',
  };
}

describe('TenantAuthorizer', () => {
  let records: Record<string, Tenant>;
  let vended: PolicyTenant[];
  const authorizer = (extra: { tenantFromGroup?: boolean } = {}) =>
    new TenantAuthorizer({
      issuer: ISSUER,
      clientId: CLIENT,
      jwks,
      // Never fetched: the JWKS is cached up front, so an unknown kid cannot be looked up anywhere.
      jwksUri: 'http://127.0.0.1:9/jwks.json',
      tenants: { get: async (id) => records[id] },
      vendor: {
        vend: async (t) => {
          vended.push(t);
          return { tenantId: t.tenantId, accessKeyId: `ASIA-${t.tenantId}` } as VendedCredentials;
        },
      },
      platform: config,
      ...extra,
    });

  beforeEach(() => {
    records = { acme: tenant(), beta: tenant('ACTIVE', 'beta'), gone: tenant('SUSPENDED', 'gone') };
    vended = [];
  });

  it("accepts a valid access token and vends the token's tenant credentials", async () => {
    const out = await authorizer().authorize(`Bearer ${sign(claims())}`);
    expect(out.tenant.tenantId).to.equal('acme');
    expect(out.subject).to.equal('user-1');
    expect(out.credentials.accessKeyId).to.equal('ASIA-acme');
    expect(vended.map((t) => t.tenantId)).to.deep.equal(['acme']);
  });

  const hs256WithPublicKey = () => {
    const header = { alg: 'HS256', kid: KID, typ: 'JWT' };
    const input = `${b64(header)}.${b64(claims())}`;
    const secret = publicKey.export({ format: 'pem', type: 'spki' });
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const tamperedTenant = () => {
    const [header, , signature] = sign(claims()).split('.');
    return `${header}.${b64(claims({ tenantId: 'beta' }))}.${signature}`;
  };
  const corpus: [string, () => string][] = [
    [
      'a token of another user pool',
      () => sign(claims({ iss: cognitoIssuer('us-east-1', 'us-east-1_Other999') })),
    ],
    ['a token of another app client', () => sign(claims({ client_id: 'another-client' }))],
    [
      'an ID token used as an access token',
      () => sign(claims({ token_use: 'id', aud: CLIENT, client_id: undefined })),
    ],
    ['an expired token', () => sign(claims({ exp: Math.floor(Date.now() / 1000) - 5 }))],
    ['alg none', () => `${b64({ alg: 'none', kid: KID })}.${b64(claims())}.`],
    ['HS256 signed with the public key', hs256WithPublicKey],
    ['an unknown kid', () => sign(claims(), { alg: 'RS256', kid: 'key-2', typ: 'JWT' })],
    ['a tampered tenant claim', tamperedTenant],
    [
      'a token signed by another key',
      () => {
        const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
        const input = `${b64({ alg: 'RS256', kid: KID })}.${b64(claims())}`;
        return `${input}.${createSign('RSA-SHA256').update(input).sign(other).toString('base64url')}`;
      },
    ],
    ['a token without a tenant', () => sign(claims({ tenantId: undefined }))],
    ['a token naming a malformed tenant', () => sign(claims({ tenantId: 'acme*' }))],
    ['no bearer token at all', () => ''],
  ];
  for (const [what, token] of corpus) {
    it(`refuses ${what} (UNAUTHORIZED) and vends nothing`, async () => {
      const err = await rejectionOf(authorizer().authorize(token() ? `Bearer ${token()}` : undefined));
      expect(err.code).to.equal('UNAUTHORIZED');
      expect(err.details).to.deep.equal({ httpStatus: 401 });
      expect(vended).to.deep.equal([]);
    });
  }

  it('lets a MIGRATING tenant through (its reads go on through the freeze; writers refuse with 503)', async () => {
    records.moving = tenant('MIGRATING', 'moving');
    const out = await authorizer().authorize(`Bearer ${sign(claims({ tenantId: 'moving' }))}`);
    expect(out.tenant.status).to.equal('MIGRATING');
    expect(vended.map((t) => t.tenantId)).to.deep.equal(['moving']);
  });

  it('refuses a valid token of a tenant that is not ACTIVE (exit 4, TENANT_NOT_ACTIVE)', async () => {
    const err = await rejectionOf(authorizer().authorize(`Bearer ${sign(claims({ tenantId: 'gone' }))}`));
    expect(err.code).to.equal('TENANT_NOT_ACTIVE');
    expect(vended).to.deep.equal([]);
  });

  it('takes the tenant from its tenant group only when told to (local stack), and never from two groups', async () => {
    const grouped = claims({ tenantId: undefined, 'cognito:groups': ['tenant-beta'] });
    expect((await rejectionOf(authorizer().authorize(`Bearer ${sign(grouped)}`))).code).to.equal(
      'UNAUTHORIZED',
    );
    expect(
      (await authorizer({ tenantFromGroup: true }).authorize(`Bearer ${sign(grouped)}`)).tenant.tenantId,
    ).to.equal('beta');
    const two = claims({ tenantId: undefined, 'cognito:groups': ['tenant-beta', 'tenant-acme'] });
    expect(
      (await rejectionOf(authorizer({ tenantFromGroup: true }).authorize(`Bearer ${sign(two)}`))).code,
    ).to.equal('UNAUTHORIZED');
  });
});
