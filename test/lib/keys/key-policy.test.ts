import { expect } from 'chai';

import { tenantKeyPolicy } from '../../../src/lib/keys/key-policy.js';

const ACCOUNT = '111122223333';
const RUNTIME_ROLE = 'arn:aws:iam::111122223333:role/saasctl-dev-tenant-runtime';

interface Statement {
  Sid: string;
  Effect: string;
  Principal: { AWS: string };
  Action: string | string[];
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}

function policyOf(tenantId = 'acme', region = 'eu-west-1'): { Version: string; Statement: Statement[] } {
  return JSON.parse(
    tenantKeyPolicy({ accountId: ACCOUNT, region, tenantId, runtimeRoleArn: RUNTIME_ROLE }),
  ) as { Version: string; Statement: Statement[] };
}

function statement(sid: string, tenantId?: string, region?: string): Statement {
  const found = policyOf(tenantId, region).Statement.find((s) => s.Sid === sid);
  if (!found) throw new Error(`no statement ${sid}`);
  return found;
}

describe('tenantKeyPolicy', () => {
  it('is a 2012-10-17 policy of exactly three Allow statements', () => {
    const policy = policyOf();

    expect(policy.Version).to.equal('2012-10-17');
    expect(policy.Statement.map((s) => [s.Sid, s.Effect])).to.deep.equal([
      ['AccountAdministers', 'Allow'],
      ['TenantRuntimeUsesWithItsContext', 'Allow'],
      ['DynamoDBEncryptsTheTenantTable', 'Allow'],
    ]);
  });

  it('lets the root of the tenant account administer the key, so IAM policies apply', () => {
    expect(statement('AccountAdministers')).to.deep.equal({
      Sid: 'AccountAdministers',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111122223333:root' },
      Action: 'kms:*',
      Resource: '*',
    });
  });

  it('lets the runtime role use the key only with an encryption context naming the tenant', () => {
    expect(statement('TenantRuntimeUsesWithItsContext', 'globex')).to.deep.equal({
      Sid: 'TenantRuntimeUsesWithItsContext',
      Effect: 'Allow',
      Principal: { AWS: RUNTIME_ROLE },
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenantId': 'globex' } },
    });
  });

  it('lets any principal use the key only through DynamoDB in the region and from the tenant account', () => {
    expect(statement('DynamoDBEncryptsTheTenantTable', 'acme', 'eu-west-1')).to.deep.equal({
      Sid: 'DynamoDBEncryptsTheTenantTable',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncrypt*',
        'kms:GenerateDataKey*',
        'kms:CreateGrant',
        'kms:DescribeKey',
      ],
      Resource: '*',
      Condition: {
        StringEquals: {
          'kms:CallerAccount': ACCOUNT,
          'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com',
        },
      },
    });
  });

  it('grants nothing to a principal other than the account root without a condition', () => {
    const unconditioned = policyOf().Statement.filter((s) => !s.Condition);

    expect(unconditioned.map((s) => s.Principal.AWS)).to.deep.equal(['arn:aws:iam::111122223333:root']);
  });
});
