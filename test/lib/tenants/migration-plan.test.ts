import { expect } from 'chai';

import { crashHook } from '../../../src/lib/cli/migration-command.js';
import { buildPlan, placements, type PlacementContext } from '../../../src/lib/tenants/migration-plan.js';
import type { Tenant } from '../../../src/lib/tenants/model.js';
import { validateMigrationRequest } from '../../../src/lib/tenants/promote.js';
import { DEFAULT_TIERS, type Tier } from '../../../src/lib/tenants/tiers.js';
import { thrownBy } from '../helpers/aws.js';

const context: PlacementContext = { stage: 'dev', region: 'us-east-1', pooledTable: 'saasctl-dev-pooled' };

const tier = (name: string): Tier => DEFAULT_TIERS.find((t) => t.name === name) as Tier;

function tenant(overrides: Partial<Tenant> = {}): Tenant {
  return {
    tenantId: 'acme',
    name: 'Acme',
    tier: 'pro',
    isolation: 'pool',
    status: 'ACTIVE',
    region: 'eu-west-1',
    adminEmail: 'ops@acme.test',
    version: 3,
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

const silo = tenant({
  tier: 'enterprise',
  isolation: 'silo',
  dataTable: 'dev-tenant-acme',
  keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k',
});

describe('migration plan', () => {
  describe('placements', () => {
    it("promote: from the pooled table in the control plane's region to the silo table in the tenant's region", () => {
      expect(placements(tenant(), tier('enterprise'), 'promote', context)).to.deep.equal({
        from: { tier: 'pro', isolation: 'pool', table: 'saasctl-dev-pooled', region: 'us-east-1' },
        to: { tier: 'enterprise', isolation: 'silo', table: 'dev-tenant-acme', region: 'eu-west-1' },
      });
    });

    it('promote to enterprise-account keeps the account the tenant already has', () => {
      const { to } = placements(
        tenant({ accountId: '123456789012' }),
        tier('enterprise-account'),
        'promote',
        context,
      );
      expect(to).to.deep.equal({
        tier: 'enterprise-account',
        isolation: 'silo-account',
        table: 'dev-tenant-acme',
        region: 'eu-west-1',
        accountId: '123456789012',
      });
    });

    it('demote: from the silo table to the pooled table', () => {
      expect(placements(silo, tier('starter'), 'demote', context)).to.deep.equal({
        from: { tier: 'enterprise', isolation: 'silo', table: 'dev-tenant-acme', region: 'eu-west-1' },
        to: { tier: 'starter', isolation: 'pool', table: 'saasctl-dev-pooled', region: 'us-east-1' },
      });
    });

    it('refuses a target tier of the wrong kind as bad input (exit 2)', () => {
      const toPool = thrownBy(() => placements(tenant(), tier('starter'), 'promote', context));
      expect(toPool).to.include({ code: 'INVALID_TARGET_TIER', exitCode: 2 });
      expect(toPool.message).to.match(/promote moves a tenant to a silo tier/);
      const toSilo = thrownBy(() => placements(silo, tier('enterprise-account'), 'demote', context));
      expect(toSilo).to.include({ code: 'INVALID_TARGET_TIER', exitCode: 2 });
    });

    it('refuses a tenant in the wrong place or state as a conflict (exit 4)', () => {
      expect(thrownBy(() => placements(silo, tier('enterprise-account'), 'promote', context))).to.include({
        code: 'TENANT_NOT_POOLED',
        exitCode: 4,
      });
      expect(thrownBy(() => placements(tenant(), tier('pro'), 'demote', context))).to.include({
        code: 'TENANT_NOT_SILOED',
        exitCode: 4,
      });
      for (const status of ['SUSPENDED', 'PROVISIONING', 'MIGRATING', 'OFFBOARDING'] as const) {
        expect(
          thrownBy(() => placements(tenant({ status }), tier('enterprise'), 'promote', context)),
        ).to.include({
          code: 'TENANT_NOT_ACTIVE',
          exitCode: 4,
        });
      }
      expect(
        thrownBy(() =>
          placements(tenant({ tier: 'enterprise', isolation: 'silo' }), tier('pro'), 'demote', context),
        ).code,
      ).to.equal('TENANT_TABLE_MISSING');
    });
  });

  describe('buildPlan', () => {
    const { from, to } = placements(tenant(), tier('enterprise'), 'promote', context);
    const input = {
      tenantId: 'acme',
      direction: 'promote' as const,
      from,
      to,
      counts: { items: 20_000, bytes: 5_120_000, partitions: 4 },
      segments: 4,
      target: 'local' as const,
      settleMs: 500,
      graceHours: 24,
    };

    it('says what moves, where, with which provisioning steps, and how long the copy and the freeze take', () => {
      const plan = buildPlan(input);
      expect(plan).to.deep.include({
        tenantId: 'acme',
        direction: 'promote',
        from,
        to,
        items: 20_000,
        bytes: 5_120_000,
        partitions: 4,
        provision: ['CreateTenantKey', 'CreateTenantTable'],
        segments: 4,
        cleanup: { deletes: 'the pooled copies in saasctl-dev-pooled', graceHours: 24 },
      });
      expect(plan.estimates).to.include({ copySeconds: 4, freezeSeconds: 1 });
    });

    it('provisions an account first for enterprise-account, and nothing for a demote', () => {
      const account = placements(tenant(), tier('enterprise-account'), 'promote', context);
      expect(buildPlan({ ...input, ...account }).provision).to.deep.equal([
        'CreateTenantAccount',
        'CreateTenantKey',
        'CreateTenantTable',
      ]);
      const down = placements(silo, tier('pro'), 'demote', context);
      const plan = buildPlan({ ...input, direction: 'demote', ...down });
      expect(plan.provision).to.deep.equal([]);
      expect(plan.cleanup.deletes).to.equal(
        "table dev-tenant-acme, and the tenant's KMS key is scheduled for deletion",
      );
    });

    it('estimates the freeze from the settle wait, whatever the size of the tenant', () => {
      const small = buildPlan({ ...input, counts: { items: 10, bytes: 1000, partitions: 1 } });
      const large = buildPlan({ ...input, counts: { items: 10_000_000, bytes: 1e9, partitions: 9 } });
      expect(small.estimates.freezeSeconds).to.equal(large.estimates.freezeSeconds);
      expect(large.estimates.copySeconds).to.equal(2000);
      expect(buildPlan({ ...input, target: 'aws', settleMs: 2000 }).estimates).to.include({
        copySeconds: 10,
        freezeSeconds: 2.5,
      });
    });
  });

  describe('validateMigrationRequest', () => {
    it('needs --to unless resuming, a valid tenant id and a grace period of 0-720 whole hours', () => {
      expect(
        validateMigrationRequest({ tenantId: 'acme', direction: 'promote', toTier: 'enterprise' }),
      ).to.deep.equal({
        tenantId: 'acme',
        direction: 'promote',
        toTier: 'enterprise',
        resume: false,
        dryRun: false,
        cleanupNow: false,
        graceHours: 24,
      });
      expect(
        validateMigrationRequest({ tenantId: 'acme', direction: 'demote', resume: true }).resume,
      ).to.equal(true);
      expect(thrownBy(() => validateMigrationRequest({ tenantId: 'acme', direction: 'promote' }))).to.include(
        {
          code: 'TARGET_TIER_REQUIRED',
          exitCode: 2,
        },
      );
      expect(
        thrownBy(() =>
          validateMigrationRequest({ tenantId: 'Acme!', direction: 'promote', toTier: 'enterprise' }),
        ).code,
      ).to.equal('INVALID_TENANT_ID');
      for (const graceHours of [-1, 721, 1.5]) {
        expect(
          thrownBy(() =>
            validateMigrationRequest({ tenantId: 'acme', direction: 'promote', toTier: 'x', graceHours }),
          ).code,
        ).to.equal('INVALID_GRACE_HOURS');
      }
    });
  });

  describe('crashHook (SAASCTL_TEST_CRASH_AT)', () => {
    it('is off without the variable, and refuses a crash point that does not exist rather than never firing', () => {
      expect(crashHook(undefined)).to.equal(undefined);
      expect(crashHook('')).to.equal(undefined);
      expect(thrownBy(() => crashHook('copyy'))).to.include({ code: 'INVALID_CRASH_POINT', exitCode: 2 });
      expect(crashHook('copy')).to.be.a('function');
    });
  });
});
