import {
  AdminGetUserCommand,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { expect } from 'chai';

import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { AuditRecord, Tenant } from '../../src/lib/tenants/model.js';
import { type ErrorEnvelope, run, spawnCli, tempHome } from '../helpers/cli.js';

/** The pool signs users in by email: Cognito's username is a generated id. */
const email = (user: { Attributes?: { Name?: string; Value?: string }[] }) =>
  user.Attributes?.find((a) => a.Name === 'email')?.Value;

const onboardArgs = (id: string, tier = 'pro', email = `ops@${id}.test`) => [
  'tenant',
  'onboard',
  id,
  '--tier',
  tier,
  '--name',
  `${id} Inc`,
  '--admin-email',
  email,
];

describe('tenant commands on the embedded stack', function () {
  this.timeout(120_000);
  const { home, dispose } = tempHome();
  let owner: StackOwner;

  before(async () => {
    owner = await startStack({ home, stage: 'local', region: 'us-east-1' });
  });
  after(async () => {
    await owner.stop();
    dispose();
  });

  function cognito() {
    return {
      client: localClients(owner.info().endpoints, 'us-east-1').cognito(),
      pool: owner.info().platform.userPool.id,
    };
  }

  describe('tenant onboard', () => {
    it('onboards a pooled tenant to ACTIVE with its group and admin user, showing each step', async () => {
      const result = await run(onboardArgs('acme'), home);
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout).to.include('Onboarded acme.');
      expect(result.stdout).to.match(/status\s+ACTIVE/);
      expect(result.stderr).to.include('Target: local stack');
      for (const step of [
        'tenant record acme',
        'Cognito group tenant-acme',
        'admin user ops@acme.test',
        'activate',
      ]) {
        expect(result.stderr).to.include(step);
      }

      const { client, pool } = cognito();
      const user = await client.send(
        new AdminGetUserCommand({ UserPoolId: pool, Username: 'ops@acme.test' }),
      );
      const attributes = Object.fromEntries((user.UserAttributes ?? []).map((a) => [a.Name, a.Value]));
      expect(attributes['custom:tenantId']).to.equal('acme');
      expect(attributes['custom:tier']).to.equal('pro');
      const members = await client.send(
        new ListUsersInGroupCommand({ UserPoolId: pool, GroupName: 'tenant-acme' }),
      );
      expect(members.Users?.map(email)).to.deep.equal(['ops@acme.test']);
    });

    it('returns the tenant record and the steps under --json, and nothing else', async () => {
      const result = await run([...onboardArgs('globex', 'starter'), '--json'], home);
      expect(result.exitCode).to.equal(0);
      expect(result.stderr).to.equal('');
      const body = result.json as {
        tenant: Tenant;
        changed: boolean;
        steps: { step: string; outcome: string }[];
      };
      expect(body.changed).to.equal(true);
      expect(body.tenant).to.include({
        tenantId: 'globex',
        name: 'globex Inc',
        tier: 'starter',
        isolation: 'pool',
        status: 'ACTIVE',
        region: 'us-east-1',
        version: 2,
      });
      expect(body.tenant.createdAt).to.match(/^\d{4}-\d\d-\d\dT/);
      expect(body.tenant.updatedAt).to.match(/^\d{4}-\d\d-\d\dT/);
      expect(body.steps).to.deep.equal([
        { step: 'CreateTenantRecord', outcome: 'created' },
        { step: 'CreateTenantGroup', outcome: 'created' },
        { step: 'CreateAdminUser', outcome: 'created' },
        { step: 'ActivateTenant', outcome: 'created' },
      ]);
    });

    it('converges on a re-run: nothing created twice, version unchanged', async () => {
      const result = await run([...onboardArgs('acme'), '--json'], home);
      expect(result.exitCode).to.equal(0);
      const body = result.json as { tenant: Tenant; changed: boolean; steps: { outcome: string }[] };
      expect(body.changed).to.equal(false);
      expect(body.steps.every((s) => s.outcome === 'exists')).to.equal(true);
      expect(body.tenant.version).to.equal(2);
    });

    it('answers an existing id with another tier with a conflict (exit 4) and changes nothing', async () => {
      const result = await run([...onboardArgs('acme', 'starter'), '--json'], home);
      expect(result.exitCode).to.equal(4);
      expect((result.json as ErrorEnvelope).error.code).to.equal('TENANT_EXISTS');
      expect((result.json as ErrorEnvelope).error.message).to.include('tier is pro, not starter');
      const shown = await run(['tenant', 'show', 'acme', '--json'], home);
      expect((shown.json as { tenant: Tenant }).tenant).to.include({ tier: 'pro', version: 2 });
    });

    it('onboards a silo tenant with its own KMS key and table', async () => {
      const result = await run([...onboardArgs('bigco', 'enterprise'), '--json'], home);
      expect(result.exitCode, JSON.stringify(result.json)).to.equal(0);
      const { tenant } = result.json as { tenant: Tenant };
      expect(tenant).to.include({ isolation: 'silo', status: 'ACTIVE', dataTable: 'local-tenant-bigco' });
      expect(tenant.keyArn).to.match(/^arn:aws:kms:us-east-1:000000000000:key\//);
    });

    it('refuses an unknown tier with exit 2, listing the tiers, and writes nothing', async () => {
      const result = await run([...onboardArgs('initech', 'platinum'), '--json'], home);
      expect(result.exitCode).to.equal(2);
      expect((result.json as ErrorEnvelope).error.message).to.include('pro, starter');
      expect((await run(['tenant', 'show', 'initech', '--json'], home)).exitCode).to.equal(3);
    });

    it('refuses an admin email that belongs to another tenant with exit 4', async () => {
      const result = await run([...onboardArgs('hooli', 'pro', 'ops@acme.test'), '--json'], home);
      expect(result.exitCode).to.equal(4);
      expect((result.json as ErrorEnvelope).error.code).to.equal('ADMIN_EMAIL_TAKEN');
    });
  });

  describe('tenant list, show and tier list', () => {
    it('lists tenants as a table for humans and as records under --json', async () => {
      const human = await run(['tenant', 'list'], home);
      expect(human.stdout).to.match(/TENANT\s+│\s+NAME/);
      expect(human.stdout).to.include('acme');
      const json = (await run(['tenant', 'list', '--json'], home)).json as Tenant[];
      expect(json.map((t) => t.tenantId).sort()).to.include.members(['acme', 'globex']);
      expect(json[0]).to.have.keys(
        'tenantId',
        'name',
        'tier',
        'isolation',
        'status',
        'region',
        'adminEmail',
        'version',
        'createdAt',
        'updatedAt',
        'statusReason',
      );
    });

    it('filters by tier and by status', async () => {
      const pro = (await run(['tenant', 'list', '--tier', 'pro', '--json'], home)).json as Tenant[];
      expect(pro.every((t) => t.tier === 'pro')).to.equal(true);
      expect(pro.map((t) => t.tenantId))
        .to.include('acme')
        .and.not.include('globex');
      const suspended = (await run(['tenant', 'list', '--status', 'SUSPENDED', '--json'], home))
        .json as Tenant[];
      expect(suspended).to.deep.equal([]);
    });

    it('shows a tenant with its audit trail, newest first', async () => {
      const { tenant, audit } = (await run(['tenant', 'show', 'acme', '--json'], home)).json as {
        tenant: Tenant;
        audit: AuditRecord[];
      };
      expect(tenant.tenantId).to.equal('acme');
      expect(audit.map((a) => a.action)).to.deep.equal(['activate', 'create']);
      expect(audit[0]).to.include({ fromStatus: 'PROVISIONING', toStatus: 'ACTIVE', version: 2 });
      expect(audit[0].actor).to.match(/^local:/);
    });

    it('answers an unknown tenant with exit 3', async () => {
      const result = await run(['tenant', 'show', 'nobody', '--json'], home);
      expect(result.exitCode).to.equal(3);
      expect((result.json as ErrorEnvelope).error.code).to.equal('TENANT_NOT_FOUND');
    });

    it('lists the seeded default tiers with name and isolation', async () => {
      const tiers = (await run(['tier', 'list', '--json'], home)).json as {
        name: string;
        isolation: string;
      }[];
      expect(Object.fromEntries(tiers.map((t) => [t.name, t.isolation]))).to.deep.equal({
        starter: 'pool',
        pro: 'pool',
        business: 'pool-dedicated-table',
        enterprise: 'silo',
        'enterprise-account': 'silo-account',
      });
    });
  });

  describe('tenant suspend, resume and update', () => {
    it('suspends and resumes with a reason, each change audited with its version', async () => {
      const suspended = await run(
        ['tenant', 'suspend', 'acme', '--reason', 'invoice unpaid', '--json'],
        home,
      );
      expect(suspended.exitCode).to.equal(0);
      expect((suspended.json as { tenant: Tenant; changed: boolean }).tenant).to.include({
        status: 'SUSPENDED',
        version: 3,
      });
      const again = await run(['tenant', 'suspend', 'acme', '--reason', 'invoice unpaid', '--json'], home);
      expect((again.json as { changed: boolean }).changed).to.equal(false);

      const resumed = await run(['tenant', 'resume', 'acme', '--reason', 'invoice paid'], home);
      expect(resumed.exitCode).to.equal(0);
      expect(resumed.stdout).to.include('Resumed acme.');

      const { audit } = (await run(['tenant', 'show', 'acme', '--json'], home)).json as {
        audit: AuditRecord[];
      };
      expect(audit.slice(0, 2).map((a) => [a.action, a.toStatus, a.reason, a.version])).to.deep.equal([
        ['resume', 'ACTIVE', 'invoice paid', 4],
        ['suspend', 'SUSPENDED', 'invoice unpaid', 3],
      ]);
    });

    it('treats resuming an ACTIVE tenant as already done (idempotent)', async () => {
      const result = await run(['tenant', 'resume', 'acme', '--reason', 'again', '--json'], home);
      expect(result.exitCode).to.equal(0);
      expect((result.json as { changed: boolean }).changed).to.equal(false);
    });

    it('updates the name and plan price, recording what changed', async () => {
      const result = await run(
        ['tenant', 'update', 'acme', '--name', 'Acme Corporation', '--plan-price', '1900', '--json'],
        home,
      );
      expect(result.exitCode).to.equal(0);
      expect((result.json as { tenant: Tenant }).tenant).to.include({
        name: 'Acme Corporation',
        planPrice: 1900,
      });
      const { audit } = (await run(['tenant', 'show', 'acme', '--json'], home)).json as {
        audit: AuditRecord[];
      };
      expect(audit[0].action).to.equal('update');
      expect(audit[0].changes).to.deep.equal({
        name: { from: 'acme Inc', to: 'Acme Corporation' },
        planPrice: { to: 1900 },
      });
    });
  });

  describe('two one-shot onboards of the same id at once, with no stack running', () => {
    const fresh = tempHome();
    after(fresh.dispose);

    it('ends with exactly one record, one group and one admin user, both commands succeeding', async () => {
      const args = [...onboardArgs('wayne'), '--json'];
      const [first, second] = await Promise.all([spawnCli(args, fresh.home), spawnCli(args, fresh.home)]);
      expect(first.exitCode, first.stderr).to.equal(0);
      expect(second.exitCode, second.stderr).to.equal(0);

      const inspector = await startStack({ home: fresh.home, stage: 'local', region: 'us-east-1' });
      try {
        const tenants = (await run(['tenant', 'list', '--json'], fresh.home)).json as Tenant[];
        expect(tenants.map((t) => [t.tenantId, t.status])).to.deep.equal([['wayne', 'ACTIVE']]);
        const { audit } = (await run(['tenant', 'show', 'wayne', '--json'], fresh.home)).json as {
          audit: AuditRecord[];
        };
        expect(audit.map((a) => a.action)).to.deep.equal(['activate', 'create']);

        const client = localClients(inspector.info().endpoints, 'us-east-1').cognito();
        const UserPoolId = inspector.info().platform.userPool.id;
        const groups = (await client.send(new ListGroupsCommand({ UserPoolId }))).Groups ?? [];
        expect(groups.filter((g) => g.GroupName === 'tenant-wayne')).to.have.length(1);
        const users = (await client.send(new ListUsersCommand({ UserPoolId }))).Users ?? [];
        expect(users.map(email)).to.deep.equal(['ops@wayne.test']);
        const members = await client.send(
          new ListUsersInGroupCommand({ UserPoolId, GroupName: 'tenant-wayne' }),
        );
        expect(members.Users?.map(email)).to.deep.equal(['ops@wayne.test']);
      } finally {
        await inspector.stop();
      }
    });
  });
});
