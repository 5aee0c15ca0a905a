import { expect } from 'chai';

import { preTokenGeneration, type PreTokenEvent } from '../../../src/lib/runtime/pre-token.js';
import { CachedTenantReader } from '../../../src/lib/runtime/tenant-access.js';
import type { Tenant, TenantStatus } from '../../../src/lib/tenants/model.js';
import { rejectionOf } from '../helpers/aws.js';

function tenant(status: TenantStatus, tier = 'pro'): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme',
    tier,
    isolation: 'pool',
    status,
    region: 'us-east-1',
    adminEmail: 'a@acme.test',
    version: 3,
    createdAt: '2026-11-01T00:00:00Z',
    updatedAt: '2026-11-01T00:00:00Z',
  };
}

function event(version: string, tenantId: string | null = 'acme'): PreTokenEvent {
  return {
    version,
    triggerSource: 'TokenGeneration_Authentication',
    region: 'us-east-1',
    userPoolId: 'us-east-1_pool',
    userName: 'u-1',
    callerContext: { awsSdkVersion: 'x', clientId: 'client' },
    request: {
      userAttributes: {
        sub: 'u-1',
        email: 'a@acme.test',
        ...(tenantId ? { 'custom:tenantId': tenantId } : {}),
        'custom:tier': 'starter',
      },
      groupConfiguration: {},
    },
    response: {},
  };
}

describe('preTokenGeneration', () => {
  const reader = (record: Tenant | undefined) => {
    const calls: string[] = [];
    return { calls, get: async (id: string) => (calls.push(id), record) };
  };

  it('adds tenantId, the catalog tier and status to the ID and access tokens of a V2 event', async () => {
    const tenants = reader(tenant('ACTIVE'));
    const out = await preTokenGeneration(event('2'), tenants);
    const claims = { tenantId: 'acme', tier: 'pro', tenantStatus: 'ACTIVE' };
    expect(out.response).to.deep.equal({
      claimsAndScopeOverrideDetails: {
        idTokenGeneration: { claimsToAddOrOverride: claims },
        accessTokenGeneration: { claimsToAddOrOverride: claims },
      },
    });
    expect(out.userPoolId).to.equal('us-east-1_pool');
    expect(tenants.calls).to.deep.equal(['acme']);
  });

  it('answers a V1 event (and cognito-local\'s "0") in the V1 shape, ID token only', async () => {
    for (const version of ['1', '0']) {
      const out = await preTokenGeneration(event(version), reader(tenant('MIGRATING')));
      expect(out.response).to.deep.equal({
        claimsOverrideDetails: {
          claimsToAddOrOverride: { tenantId: 'acme', tier: 'pro', tenantStatus: 'MIGRATING' },
        },
      });
    }
  });

  for (const status of ['SUSPENDED', 'DELETED', 'OFFBOARDING', 'PROVISIONING'] as const) {
    it(`gives a user of a ${status} tenant no token`, async () => {
      const err = await rejectionOf(preTokenGeneration(event('2'), reader(tenant(status))));
      expect(err.code).to.equal('TENANT_NOT_ACTIVE');
      expect(err.message).to.contain(status);
    });
  }

  it('gives no token to a user without a tenant, of an unknown tenant, or with a malformed tenant id', async () => {
    expect((await rejectionOf(preTokenGeneration(event('2', null), reader(tenant('ACTIVE'))))).code).to.equal(
      'USER_WITHOUT_TENANT',
    );
    expect((await rejectionOf(preTokenGeneration(event('2'), reader(undefined)))).code).to.equal(
      'TENANT_NOT_ACTIVE',
    );
    const malformed = reader(tenant('ACTIVE'));
    expect((await rejectionOf(preTokenGeneration(event('2', 'acme*'), malformed))).code).to.equal(
      'INVALID_TENANT_ID',
    );
    expect(malformed.calls, 'no catalog read for a malformed id').to.deep.equal([]);
  });

  it('reads the catalog once per tenant within the cache lifetime, and again after it', async () => {
    let now = 0;
    const source = reader(tenant('ACTIVE'));
    const cached = new CachedTenantReader(source, { ttlMs: 30_000, now: () => now });
    await preTokenGeneration(event('2'), cached);
    now = 29_999;
    await preTokenGeneration(event('2'), cached);
    expect(source.calls).to.have.length(1);
    now = 30_000;
    await preTokenGeneration(event('2'), cached);
    expect(source.calls).to.have.length(2);
  });

  it('sees a suspension once the cached record expires', async () => {
    let now = 0;
    let record = tenant('ACTIVE');
    const cached = new CachedTenantReader({ get: async () => record }, { ttlMs: 30_000, now: () => now });
    await preTokenGeneration(event('2'), cached);
    record = tenant('SUSPENDED');
    now = 30_000;
    expect((await rejectionOf(preTokenGeneration(event('2'), cached))).code).to.equal('TENANT_NOT_ACTIVE');
  });
});
