import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'chai';

import { TenantCatalog } from '../../../src/lib/tenants/catalog.js';
import type { Tenant } from '../../../src/lib/tenants/model.js';
import {
  emulatedSubscription,
  subscriptionOf,
  subscriptionUpdate,
  validateSubscription,
} from '../../../src/lib/tenants/subscription.js';
import { ddb, documentClient, thrownBy } from '../helpers/aws.js';

const ACCOUNT = '111122223333';
const LICENSE = `arn:aws:license-manager::${ACCOUNT}:license:l-0123456789abcdef0123456789abcdef`;
const NOW = '2026-11-27T10:00:00.000Z';

function tenant(overrides: Partial<Tenant> = {}): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme Corp',
    tier: 'pro',
    isolation: 'pool',
    status: 'ACTIVE',
    region: 'us-east-1',
    adminEmail: 'ops@acme.example',
    version: 2,
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

describe('Marketplace subscription of a tenant', () => {
  describe('validateSubscription', () => {
    it('takes an account id with its license, or a legacy customer identifier, or nothing', () => {
      expect(validateSubscription({})).to.equal(undefined);
      expect(validateSubscription({ marketplaceAccountId: ACCOUNT, licenseArn: LICENSE })).to.deep.equal({
        marketplaceAccountId: ACCOUNT,
        licenseArn: LICENSE,
      });
      expect(validateSubscription({ marketplaceCustomer: 'AbC123xyz' })).to.deep.equal({
        marketplaceCustomer: 'AbC123xyz',
      });
      expect(
        validateSubscription({
          marketplaceAccountId: ACCOUNT,
          licenseArn:
            'arn:aws-us-gov:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef',
        }),
      ).to.include({ marketplaceAccountId: ACCOUNT });
    });

    it('refuses half or mixed subscriptions and malformed values with exit 2, naming the rule', () => {
      const cases: [Parameters<typeof validateSubscription>[0], string][] = [
        [{ marketplaceAccountId: ACCOUNT }, '--marketplace-account-id needs --license-arn'],
        [{ licenseArn: LICENSE }, '--license-arn needs --marketplace-account-id'],
        [{ marketplaceAccountId: ACCOUNT, licenseArn: LICENSE, marketplaceCustomer: 'c' }, 'not both'],
        [{ marketplaceAccountId: '12345678901', licenseArn: LICENSE }, 'exactly 12 digits'],
        [{ marketplaceAccountId: '11112222333a', licenseArn: LICENSE }, 'exactly 12 digits'],
        [
          { marketplaceAccountId: ACCOUNT, licenseArn: 'arn:aws:kms:us-east-1:111122223333:key/x' },
          '--license-arn',
        ],
        [{ marketplaceAccountId: ACCOUNT, licenseArn: LICENSE.toUpperCase() }, '--license-arn'],
        [{ marketplaceCustomer: '' }, 'printable characters without spaces'],
        [{ marketplaceCustomer: 'has space' }, 'printable characters without spaces'],
        [{ marketplaceCustomer: 'x'.repeat(256) }, 'printable characters without spaces'],
      ];
      for (const [input, rule] of cases) {
        const err = thrownBy(() => validateSubscription(input));
        expect(err.code, JSON.stringify(input)).to.equal('INVALID_MARKETPLACE_SUBSCRIPTION');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.include(rule);
        expect(err.message).to.include(
          'Rule: a Marketplace subscription is --marketplace-account-id <12 digits>',
        );
      }
    });
  });

  it('reads the subscription a tenant record holds', () => {
    expect(subscriptionOf(tenant())).to.equal(undefined);
    expect(subscriptionOf(tenant({ marketplaceAccountId: ACCOUNT, licenseArn: LICENSE }))).to.deep.equal({
      kind: 'license',
      accountId: ACCOUNT,
      licenseArn: LICENSE,
    });
    expect(subscriptionOf(tenant({ marketplaceCustomer: 'cust-1' }))).to.deep.equal({
      kind: 'customer',
      customerIdentifier: 'cust-1',
    });
    expect(emulatedSubscription({ kind: 'customer', customerIdentifier: 'cust-1' }, 'prod')).to.deep.equal({
      CustomerIdentifier: 'cust-1',
      ProductCode: 'prod',
    });
  });

  it('moves a tenant from one kind of buyer identity to the other, removing the old one (audited)', async () => {
    ddb.reset();
    const current = tenant({ marketplaceCustomer: 'cust-1' });
    const stored = { PK: 'TENANT#acme', SK: 'PROFILE', ...current };
    ddb.on(GetCommand).resolves({ Item: stored });
    ddb.on(UpdateCommand).resolves({ Attributes: stored });
    ddb.on(PutCommand).resolves({});
    const catalog = new TenantCatalog(documentClient(), 'cp', () => new Date(NOW));

    const result = await catalog.update(
      'acme',
      subscriptionUpdate({ marketplaceAccountId: ACCOUNT, licenseArn: LICENSE }),
      { actor: 'local:alice' },
    );

    const { marketplaceCustomer: _gone, ...rest } = current;
    expect(result.tenant).to.deep.equal({
      ...rest,
      marketplaceAccountId: ACCOUNT,
      licenseArn: LICENSE,
      version: 3,
    });
    const input = ddb.commandCalls(UpdateCommand)[0].args[0].input;
    expect(input.UpdateExpression).to.equal(
      'SET #f0 = :v0, #f1 = :v1, #f2 = :v2, #f3 = :v3, #f4 = :v4 REMOVE #r0',
    );
    expect(input.ExpressionAttributeNames).to.include({
      '#f0': 'marketplaceAccountId',
      '#f1': 'licenseArn',
      '#r0': 'marketplaceCustomer',
    });
    expect(
      (input.ExpressionAttributeValues as Record<string, { changes?: unknown }>)[':v4'].changes,
    ).to.deep.equal({
      marketplaceAccountId: { from: undefined, to: ACCOUNT },
      licenseArn: { from: undefined, to: LICENSE },
      marketplaceCustomer: { from: 'cust-1' },
    });
  });
});
