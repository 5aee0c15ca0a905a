import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { localPlatformConfig } from '../../../src/lib/platform/config.js';
import {
  policyHash,
  serializeSessionPolicy,
  tenantSessionPolicy,
  type PolicyTenant,
} from '../../../src/lib/runtime/policy.js';
import { TokenVendor } from '../../../src/lib/runtime/vending.js';
import { awsError, rejectionOf } from '../helpers/aws.js';

const config = localPlatformConfig('dev', 'us-east-1', { id: 'pool', clientId: 'client' });
const ROLE = config.tenantRuntimeRoleArn;
const acme: PolicyTenant = { tenantId: 'acme', tier: 'pro', isolation: 'pool', region: 'us-east-1' };
const T0 = Date.parse('2026-11-27T10:00:00Z');

function credentials(id: string, issuedAt: number, seconds = 900) {
  return {
    Credentials: {
      AccessKeyId: id,
      SecretAccessKey: `secret-${id}`,
      SessionToken: `token-${id}`,
      Expiration: new Date(issuedAt + seconds * 1000),
    },
    AssumedRoleUser: {
      Arn: `arn:aws:sts::000000000000:assumed-role/saasctl-dev-tenant-runtime/tenant-acme`,
      AssumedRoleId: 'AROA:x',
    },
    PackedPolicySize: 12,
  };
}

describe('TokenVendor', () => {
  let sts: AwsClientStub<STSClient>;
  let now: number;
  const client = new STSClient({ region: 'us-east-1' });
  const vendor = (options: Partial<ConstructorParameters<typeof TokenVendor>[0]> = {}) =>
    new TokenVendor({ sts: () => client, roleArn: ROLE, now: () => now, ...options });

  before(() => {
    sts = mockClient(STSClient);
  });
  after(() => sts.restore());
  beforeEach(() => {
    sts.reset();
    now = T0;
  });

  it('assumes the tenant runtime role for 15 minutes with the session policy and a tenantId tag', async () => {
    sts.on(AssumeRoleCommand).resolves(credentials('ASIA1', T0));
    const vended = await vendor().vend(acme, config);
    const policy = serializeSessionPolicy(tenantSessionPolicy(acme, config));
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).to.deep.equal([
      {
        RoleArn: 'arn:aws:iam::000000000000:role/saasctl-dev-tenant-runtime',
        RoleSessionName: 'tenant-acme',
        DurationSeconds: 900,
        Policy: policy,
        Tags: [{ Key: 'tenantId', Value: 'acme' }],
      },
    ]);
    expect(vended).to.deep.equal({
      tenantId: 'acme',
      tier: 'pro',
      accessKeyId: 'ASIA1',
      secretAccessKey: 'secret-ASIA1',
      sessionToken: 'token-ASIA1',
      expiration: '2026-11-27T10:15:00.000Z',
      assumedRoleArn: 'arn:aws:sts::000000000000:assumed-role/saasctl-dev-tenant-runtime/tenant-acme',
      policyHash: policyHash(policy),
      packedPolicySize: 12,
      cached: false,
    });
  });

  it('serves cached credentials until 5 minutes before they expire, then renews them', async () => {
    sts
      .on(AssumeRoleCommand)
      .resolvesOnce(credentials('ASIA1', T0))
      .resolvesOnce(credentials('ASIA2', T0 + 600_001));
    const v = vendor();
    await v.vend(acme, config);
    now = T0 + 600_000 - 1;
    expect(await v.vend(acme, config)).to.include({ accessKeyId: 'ASIA1', cached: true });
    now = T0 + 600_001;
    expect(await v.vend(acme, config)).to.include({ accessKeyId: 'ASIA2', cached: false });
    expect(sts.commandCalls(AssumeRoleCommand)).to.have.length(2);
  });

  it('keys the cache by tenant, tier and policy: a tier change gets new credentials', async () => {
    sts
      .on(AssumeRoleCommand)
      .resolvesOnce(credentials('ASIA1', T0))
      .resolvesOnce(credentials('ASIA2', T0))
      .resolvesOnce(credentials('ASIA3', T0));
    const v = vendor();
    await v.vend(acme, config);
    const silo = {
      tenantId: 'acme',
      tier: 'enterprise',
      isolation: 'silo' as const,
      region: 'us-east-1',
      dataTable: 'dev-tenant-acme',
    };
    expect(await v.vend(silo, config)).to.include({ accessKeyId: 'ASIA2', tier: 'enterprise' });
    expect(await v.vend({ ...acme, tenantId: 'acme2' }, config)).to.include({
      accessKeyId: 'ASIA3',
      tenantId: 'acme2',
    });
    expect(await v.vend(acme, config)).to.include({ accessKeyId: 'ASIA1', cached: true });
    expect(v.size).to.equal(3);
  });

  it('makes one STS call for concurrent requests of the same tenant', async () => {
    sts.on(AssumeRoleCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return credentials('ASIA1', T0);
    });
    const v = vendor();
    const all = await Promise.all([v.vend(acme, config), v.vend(acme, config), v.vend(acme, config)]);
    expect(all.map((c) => c.accessKeyId)).to.deep.equal(['ASIA1', 'ASIA1', 'ASIA1']);
    expect(sts.commandCalls(AssumeRoleCommand)).to.have.length(1);
  });

  it('caches nothing when STS fails, and maps PackedPolicyTooLarge to SESSION_POLICY_TOO_LARGE', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(
        awsError('PackedPolicyTooLargeException', 'Packed policy consumes 104% of allotted space'),
      );
    const v = vendor();
    const err = await rejectionOf(v.vend(acme, config));
    expect(err.code).to.equal('SESSION_POLICY_TOO_LARGE');
    expect(err.message).to.contain('104%');
    expect(v.size).to.equal(0);
  });

  it('warns when the packed policy takes more than half of STS packed space', async () => {
    sts.on(AssumeRoleCommand).resolves({ ...credentials('ASIA1', T0), PackedPolicySize: 61 });
    const warnings: string[] = [];
    await vendor({ warn: (m) => warnings.push(m) }).vend(acme, config);
    expect(warnings).to.deep.equal([
      'The session policy of tenant "acme" takes 61% of STS\'s packed policy space (warning above 50%).',
    ]);
  });

  it('refuses an answer without credentials', async () => {
    sts.on(AssumeRoleCommand).resolves({});
    expect((await rejectionOf(vendor().vend(acme, config))).code).to.equal('STS_NO_CREDENTIALS');
  });

  it('evicts the least recently used credentials beyond its bound', async () => {
    let n = 0;
    sts.on(AssumeRoleCommand).callsFake(async () => credentials(`ASIA${++n}`, T0));
    const v = vendor({ maxEntries: 2 });
    await v.vend(acme, config);
    await v.vend({ ...acme, tenantId: 'beta' }, config);
    await v.vend(acme, config);
    await v.vend({ ...acme, tenantId: 'gamma' }, config);
    expect(v.size).to.equal(2);
    expect(await v.vend(acme, config)).to.include({ cached: true });
    expect(await v.vend({ ...acme, tenantId: 'beta' }, config)).to.include({ cached: false });
  });

  it('refuses a renewal margin as long as the credentials live', () => {
    expect(() => vendor({ renewBeforeSeconds: 900 })).to.throw(/renewal margin/);
  });
});
