import { expect } from 'chai';

import { localPlatformConfig, type PlatformConfig } from '../../../src/lib/platform/config.js';
import {
  policyHash,
  SESSION_POLICY_MAX_CHARS,
  serializeSessionPolicy,
  tenantSessionPolicy,
  type PolicyTenant,
} from '../../../src/lib/runtime/policy.js';
import { thrownBy } from '../helpers/aws.js';

const config = localPlatformConfig('dev', 'us-east-1', { id: 'pool', clientId: 'client' });
const pooled: PolicyTenant = { tenantId: 'acme', tier: 'pro', isolation: 'pool', region: 'us-east-1' };
const KEY = 'arn:aws:kms:eu-west-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('tenantSessionPolicy', () => {
  it('grants a pooled tenant its own partitions, its S3 prefix, and denies Scan, PartiQL and indexes', () => {
    expect(tenantSessionPolicy(pooled, config)).to.deep.equal({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['dynamodb:*Item', 'dynamodb:Query'],
          Resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/saasctl-dev-pooled',
          Condition: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TENANT#acme', 'TENANT#acme#*'] },
            Null: { 'dynamodb:LeadingKeys': 'false' },
          },
        },
        { Effect: 'Deny', Action: ['dynamodb:Scan', 'dynamodb:PartiQL*'], Resource: '*' },
        {
          Effect: 'Deny',
          Action: 'dynamodb:*',
          Resource: 'arn:aws:dynamodb:*:*:table/*/index/*',
        },
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          Resource: 'arn:aws:s3:::saasctl-dev-tenant-data/acme/*',
        },
      ],
    });
  });

  it("grants a silo tenant its own table in its region and account (not the pool) and its key's context", () => {
    const policy = tenantSessionPolicy(
      {
        tenantId: 'bigco',
        tier: 'enterprise-account',
        isolation: 'silo-account',
        region: 'eu-west-1',
        dataTable: 'dev-tenant-bigco',
        accountId: '210987654321',
        keyArn: KEY,
      },
      config,
    );
    expect(policy.Statement[0].Resource).to.equal(
      'arn:aws:dynamodb:eu-west-1:210987654321:table/dev-tenant-bigco',
    );
    expect(policy.Statement.at(-1)).to.deep.equal({
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: KEY,
      Condition: { StringEquals: { 'kms:EncryptionContext:tenantId': 'bigco' } },
    });
  });

  it('grants a business tenant the pool and its dedicated table', () => {
    const policy = tenantSessionPolicy(
      { ...pooled, tier: 'business', isolation: 'pool-dedicated-table', dataTable: 'dev-tenant-acme' },
      config,
    );
    expect(policy.Statement[0].Resource).to.deep.equal([
      'arn:aws:dynamodb:us-east-1:000000000000:table/saasctl-dev-pooled',
      'arn:aws:dynamodb:us-east-1:000000000000:table/dev-tenant-acme',
    ]);
  });

  it('grants no S3 on a stage whose platform names no tenant data bucket', () => {
    const { tenantDataBucket: _bucket, ...withoutBucket } = config;
    const actions = tenantSessionPolicy(pooled, withoutBucket).Statement.flatMap((s) => s.Action);
    expect(actions.filter((a) => a.startsWith('s3:'))).to.deep.equal([]);
  });

  it('refuses a silo tenant with no table recorded (exit 4), rather than a policy naming no table', () => {
    const err = thrownBy(() =>
      tenantSessionPolicy(
        { tenantId: 'bigco', tier: 'enterprise', isolation: 'silo', region: 'us-east-1' },
        config,
      ),
    );
    expect(err.code).to.equal('TENANT_TABLE_MISSING');
    expect(err.exitCode).to.equal(4);
  });

  const hostile = [
    'acme*',
    'ac?me',
    'acme"x',
    'acme${aws:username}',
    'ac\\me',
    'acme#2',
    'ac me',
    'acmé',
    'ＡＣＭＥ',
    'acme\u200b',
    'Acme',
    '',
  ];
  for (const id of hostile) {
    it(`rejects the tenant id ${JSON.stringify(id)} before building any policy (exit 2)`, () => {
      const err = thrownBy(() => tenantSessionPolicy({ ...pooled, tenantId: id }, config));
      expect(err.code).to.equal('INVALID_TENANT_ID');
      expect(err.exitCode).to.equal(2);
    });
  }

  describe('size against STS limits', () => {
    const aws: PlatformConfig = {
      ...localPlatformConfig('prod', 'eu-central-1', { id: 'p', clientId: 'c' }),
      accountId: '123456789012',
      tenantRuntimeRoleArn: 'arn:aws:iam::123456789012:role/saasctl-prod-tenant-runtime',
    };
    const tiers = (id: string): PolicyTenant[] => [
      { tenantId: id, tier: 'starter', isolation: 'pool', region: 'eu-central-1' },
      {
        tenantId: id,
        tier: 'business',
        isolation: 'pool-dedicated-table',
        region: 'eu-central-1',
        dataTable: `prod-tenant-${id}`,
      },
      {
        tenantId: id,
        tier: 'enterprise',
        isolation: 'silo',
        region: 'eu-central-1',
        dataTable: `prod-tenant-${id}`,
        keyArn: KEY,
      },
      {
        tenantId: id,
        tier: 'enterprise-account',
        isolation: 'silo-account',
        region: 'eu-central-1',
        dataTable: `prod-tenant-${id}`,
        accountId: '210987654321',
        keyArn: KEY,
      },
    ];

    it('stays under half of the 2,048 characters for every tier with a 17-character tenant id', () => {
      for (const tenant of tiers('northwind-traders')) {
        const length = serializeSessionPolicy(tenantSessionPolicy(tenant, aws)).length;
        expect(length, tenant.tier).to.be.below(SESSION_POLICY_MAX_CHARS / 2);
      }
    });

    it('stays under half of the 2,048 characters for every tier with the longest tenant id (32 characters)', () => {
      for (const tenant of tiers('a'.repeat(32))) {
        const length = serializeSessionPolicy(tenantSessionPolicy(tenant, aws)).length;
        expect(length, tenant.tier).to.be.below(SESSION_POLICY_MAX_CHARS / 2);
      }
    });

    it('refuses to serialize a policy over 2,048 characters', () => {
      const big = {
        Version: '2012-10-17' as const,
        Statement: [{ Effect: 'Allow' as const, Action: 's3:GetObject', Resource: 'x'.repeat(2100) }],
      };
      expect(thrownBy(() => serializeSessionPolicy(big)).code).to.equal('SESSION_POLICY_TOO_LARGE');
    });
  });

  it('hashes the serialized policy: same policy same hash, another tenant another hash', () => {
    const a = serializeSessionPolicy(tenantSessionPolicy(pooled, config));
    const b = serializeSessionPolicy(tenantSessionPolicy({ ...pooled, tenantId: 'acme2' }, config));
    expect(policyHash(a)).to.match(/^[0-9a-f]{16}$/);
    expect(policyHash(a)).to.equal(policyHash(serializeSessionPolicy(tenantSessionPolicy(pooled, config))));
    expect(policyHash(a)).to.not.equal(policyHash(b));
  });
});
