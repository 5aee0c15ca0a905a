import {
  AdminGetUserCommand,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  type AttributeType,
} from '@aws-sdk/client-cognito-identity-provider';
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  type AliasListEntry,
  type ListAliasesCommandOutput,
} from '@aws-sdk/client-kms';
import { ListAccountsCommand, ListTagsForResourceCommand } from '@aws-sdk/client-organizations';
import { expect } from 'chai';

import type { TenantStatusResult } from '../../src/commands/tenant/status.js';
import { SaasctlError } from '../../src/lib/cli/errors.js';
import { DataKeyCache } from '../../src/lib/keys/data-key-cache.js';
import { TenantEnvelope } from '../../src/lib/keys/envelope.js';
import type { KeyStatusResult, KeySwitchResult } from '../../src/lib/keys/kill-switch.js';
import { STAGE_TAG, TENANT_TAG, tenantKeyAlias } from '../../src/lib/keys/tenant-key.js';
import { startStack } from '../../src/lib/local/admin.js';
import { localClients, type StackOwner } from '../../src/lib/local/stack.js';
import type { AwsClientFactory } from '../../src/lib/platform/clients.js';
import type { AuditRecord, Tenant } from '../../src/lib/tenants/model.js';
import type { OnboardResult } from '../../src/lib/tenants/onboarding.js';
import { tenantTableName } from '../../src/lib/tenants/silo-table.js';
import { appliesTo } from '../../src/lib/workflow/definition.js';
import { onboardingWorkflow } from '../../src/lib/workflow/onboarding.js';
import { type CommandOutcome, type ErrorEnvelope, run, spawnCli, tempHome } from '../helpers/cli.js';

const STAGE = 'local';
const REGION = 'us-east-1';

const adminEmail = (id: string) => `admin@${id}.test`;

const onboardArgs = (id: string, tier: string) => [
  'tenant',
  'onboard',
  id,
  '--tier',
  tier,
  '--name',
  `${id} Corp`,
  '--admin-email',
  adminEmail(id),
  '--json',
];

/**
 * Each describe gets its own home and in-process stack owner, so what one suite leaves behind
 * never counts as an orphan in another. Commands run in-process and lease that stack.
 */
function useStack() {
  const { home, dispose } = tempHome('saasctl-silo-');
  const stack = { home } as { home: string; owner: StackOwner; clients: AwsClientFactory };
  before(async () => {
    stack.owner = await startStack({ home, stage: STAGE, region: REGION });
    stack.clients = localClients(stack.owner.info().endpoints, REGION);
  });
  after(async () => {
    stack.clients?.destroy();
    await stack.owner?.stop();
    dispose();
  });
  return stack;
}

/** Runs `work` with one environment variable set, restoring it afterwards (the commands run in-process). */
async function withEnv<T>(name: string, value: string, work: () => Promise<T>): Promise<T> {
  const previous = process.env[name];
  process.env[name] = value;
  try {
    return await work();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  expect.fail('expected the promise to be rejected');
}

const errorOf = (outcome: CommandOutcome) => (outcome.json as ErrorEnvelope).error;

function onboarded(outcome: CommandOutcome): OnboardResult & { tenant: Tenant } {
  expect(outcome.exitCode, JSON.stringify(outcome.json ?? outcome.stderr)).to.equal(0);
  return outcome.json as OnboardResult & { tenant: Tenant };
}

async function audit(id: string, home: string): Promise<AuditRecord[]> {
  return ((await run(['tenant', 'show', id, '--json'], home)).json as { audit: AuditRecord[] }).audit;
}

/** Everything on the stack that belongs to a tenant, found by listing, not by the names onboarding chose. */
async function inventory(clients: AwsClientFactory, userPoolId: string, id: string) {
  const kms = clients.kms();
  const keyIds: string[] = [];
  let Marker: string | undefined;
  do {
    const page = await kms.send(new ListKeysCommand({ Marker }));
    for (const { KeyId } of page.Keys ?? []) {
      const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId }));
      if (Tags?.some((t) => t.TagKey === TENANT_TAG && t.TagValue === id)) keyIds.push(String(KeyId));
    }
    Marker = page.Truncated ? page.NextMarker : undefined;
  } while (Marker);

  const aliases: AliasListEntry[] = [];
  let aliasMarker: string | undefined;
  do {
    const page: ListAliasesCommandOutput = await kms.send(new ListAliasesCommand({ Marker: aliasMarker }));
    aliases.push(...(page.Aliases ?? []));
    aliasMarker = page.Truncated ? page.NextMarker : undefined;
  } while (aliasMarker);

  const tables: string[] = [];
  let ExclusiveStartTableName: string | undefined;
  do {
    const page = await clients.dynamodb().send(new ListTablesCommand({ ExclusiveStartTableName }));
    tables.push(...(page.TableNames ?? []));
    ExclusiveStartTableName = page.LastEvaluatedTableName;
  } while (ExclusiveStartTableName);

  const cognito = clients.cognito();
  const groups = (await cognito.send(new ListGroupsCommand({ UserPoolId: userPoolId }))).Groups ?? [];
  const users = (await cognito.send(new ListUsersCommand({ UserPoolId: userPoolId }))).Users ?? [];
  const attribute = (attributes: AttributeType[] | undefined, name: string) =>
    attributes?.find((a) => a.Name === name)?.Value;

  const accounts: { Id?: string; Email?: string }[] = [];
  let NextToken: string | undefined;
  do {
    const page = await clients.organizations().send(new ListAccountsCommand({ NextToken }));
    accounts.push(...(page.Accounts ?? []));
    NextToken = page.NextToken;
  } while (NextToken);

  return {
    keyIds,
    aliases: aliases
      .filter((a) => a.AliasName?.endsWith(`/tenant/${id}`) || keyIds.includes(String(a.TargetKeyId)))
      .map((a) => ({ name: a.AliasName, target: a.TargetKeyId })),
    tables: tables.filter((t) => t.endsWith(`-tenant-${id}`)),
    groups: groups.map((g) => g.GroupName).filter((g) => g?.endsWith(`-${id}`)),
    users: users
      .filter((u) => attribute(u.Attributes, 'custom:tenantId') === id)
      .map((u) => attribute(u.Attributes, 'email')),
    accounts: accounts.filter((a) => a.Email === adminEmail(id)).map((a) => a.Id),
  };
}

/** Asserts exactly one of everything the tenant should have, each the one its record names. */
async function expectNoOrphans(stack: ReturnType<typeof useStack>, tenant: Tenant) {
  const found = await inventory(stack.clients, stack.owner.info().platform.userPool.id, tenant.tenantId);
  const keyId = String(tenant.keyArn).split('/').pop();
  expect(found.keyIds, 'keys tagged with the tenant').to.deep.equal([keyId]);
  expect(found.aliases, 'aliases').to.deep.equal([
    { name: tenantKeyAlias(STAGE, tenant.tenantId), target: keyId },
  ]);
  expect(found.tables, 'tables').to.deep.equal([tenantTableName(STAGE, tenant.tenantId)]);
  expect(found.groups, 'groups').to.deep.equal([`tenant-${tenant.tenantId}`]);
  expect(found.users, 'users').to.deep.equal([adminEmail(tenant.tenantId)]);
  if (tenant.isolation === 'silo-account') {
    expect(found.accounts, 'accounts').to.deep.equal([tenant.accountId]);
  } else {
    expect(found.accounts, 'accounts').to.deep.equal([]);
  }
}

describe('silo onboarding on the embedded stack', function () {
  this.timeout(120_000);
  const stack = useStack();

  it('onboards an enterprise tenant to ACTIVE with its own key, table, group and admin user', async () => {
    const { tenant } = onboarded(await run(onboardArgs('bigco', 'enterprise'), stack.home));
    expect(tenant).to.include({
      tenantId: 'bigco',
      isolation: 'silo',
      status: 'ACTIVE',
      dataTable: 'local-tenant-bigco',
    });
    expect(tenant.keyArn).to.match(/^arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]{36}$/);
    expect(tenant.accountId).to.equal(undefined);

    const kms = stack.clients.kms();
    const { KeyMetadata: key } = await kms.send(
      new DescribeKeyCommand({ KeyId: 'alias/saasctl/local/tenant/bigco' }),
    );
    expect(key).to.include({ Arn: tenant.keyArn, KeyState: 'Enabled', KeyUsage: 'ENCRYPT_DECRYPT' });
    const rotation = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key?.KeyId }));
    expect(rotation.KeyRotationEnabled).to.equal(true);
    const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: key?.KeyId }));
    expect(Tags).to.have.deep.members([
      { TagKey: 'tenantId', TagValue: 'bigco' },
      { TagKey: 'tier', TagValue: 'enterprise' },
      { TagKey: 'saasctl:stage', TagValue: 'local' },
    ]);

    const table = await stack.clients
      .dynamodb()
      .send(new DescribeTableCommand({ TableName: 'local-tenant-bigco' }));
    expect(table.Table?.TableStatus).to.equal('ACTIVE');
    expect(table.Table?.KeySchema).to.deep.equal([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);

    const cognito = stack.clients.cognito();
    const UserPoolId = stack.owner.info().platform.userPool.id;
    const user = await cognito.send(new AdminGetUserCommand({ UserPoolId, Username: adminEmail('bigco') }));
    const attributes = Object.fromEntries((user.UserAttributes ?? []).map((a) => [a.Name, a.Value]));
    expect(attributes).to.include({ 'custom:tenantId': 'bigco', 'custom:tier': 'enterprise' });
    const members = await cognito.send(
      new ListUsersInGroupCommand({ UserPoolId, GroupName: 'tenant-bigco' }),
    );
    expect(members.Users?.map((u) => u.Attributes?.find((a) => a.Name === 'email')?.Value)).to.deep.equal([
      adminEmail('bigco'),
    ]);

    await expectNoOrphans(stack, tenant);
  });

  it('gives the tenant key a policy that lets the runtime role use it only with the tenant in the encryption context', async () => {
    const { platform } = stack.owner.info();
    const kms = stack.clients.kms();
    // GetKeyPolicy takes no alias: find the key by its alias first.
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: tenantKeyAlias(STAGE, 'bigco') }));
    const { Policy } = await kms.send(
      new GetKeyPolicyCommand({ KeyId: KeyMetadata?.KeyId, PolicyName: 'default' }),
    );
    const statements = (
      JSON.parse(String(Policy)) as {
        Statement: { Principal: { AWS: string }; Action: string | string[]; Condition?: unknown }[];
      }
    ).Statement;
    const runtime = statements.filter((s) => s.Principal.AWS === platform.tenantRuntimeRoleArn);
    expect(runtime, 'statements naming the tenant runtime role').to.have.length(1);
    expect(runtime[0].Condition).to.deep.equal({
      StringEquals: { 'kms:EncryptionContext:tenantId': 'bigco' },
    });
    expect(runtime[0].Action).to.include.members(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(runtime[0].Action).to.not.include('kms:*');
  });

  it('records attaching the key and the table in the audit trail', async () => {
    const { tenant } = (await run(['tenant', 'show', 'bigco', '--json'], stack.home)).json as {
      tenant: Tenant;
    };
    const trail = await audit('bigco', stack.home);
    expect(trail.map((a) => a.action)).to.deep.equal(['activate', 'attach-table', 'attach-key', 'create']);
    expect(trail.find((a) => a.action === 'attach-key')?.changes).to.deep.equal({
      keyArn: { to: tenant.keyArn },
    });
    expect(trail.find((a) => a.action === 'attach-table')?.changes).to.deep.equal({
      dataTable: { to: 'local-tenant-bigco' },
    });
  });

  it('onboards an enterprise-account tenant into its own account, listed by Organizations with its tags', async () => {
    const { tenant } = onboarded(await run(onboardArgs('megacorp', 'enterprise-account'), stack.home));
    expect(tenant).to.include({
      isolation: 'silo-account',
      status: 'ACTIVE',
      dataTable: 'local-tenant-megacorp',
    });
    expect(tenant.accountId).to.match(/^\d{12}$/);

    const org = stack.clients.organizations();
    const { Accounts } = await org.send(new ListAccountsCommand({}));
    const account = Accounts?.find((a) => a.Id === tenant.accountId);
    expect(account).to.include({
      Email: adminEmail('megacorp'),
      Name: 'saasctl-local-megacorp',
      Status: 'ACTIVE',
    });
    const { Tags } = await org.send(new ListTagsForResourceCommand({ ResourceId: tenant.accountId }));
    expect(Tags).to.have.deep.members([
      { Key: 'tenantId', Value: 'megacorp' },
      { Key: 'saasctl:stage', Value: 'local' },
    ]);

    const { Tags: keyTags } = await stack.clients
      .kms()
      .send(new ListResourceTagsCommand({ KeyId: String(tenant.keyArn) }));
    expect(keyTags).to.deep.include({ TagKey: 'tier', TagValue: 'enterprise-account' });
    const trail = await audit('megacorp', stack.home);
    expect(trail.map((a) => a.action)).to.include.members(['request-account', 'attach-account']);
    await expectNoOrphans(stack, tenant);
  });
});

describe('silo onboarding after a crash at each step', function () {
  this.timeout(120_000);
  const stack = useStack();

  for (const [tier, isolation, prefix] of [
    ['enterprise', 'silo', 'silo'],
    ['enterprise-account', 'silo-account', 'acct'],
  ] as const) {
    const steps = onboardingWorkflow.steps.filter((s) => appliesTo(s, isolation)).map((s) => s.name);

    for (const [index, step] of steps.entries()) {
      it(`${tier}: a failure in ${step} is recorded, and re-running converges on one of everything`, async () => {
        const id = `${prefix}-${step.toLowerCase()}`;
        const failed = await withEnv('SAASCTL_TEST_FAIL_STEP', step, () =>
          run(onboardArgs(id, tier), stack.home),
        );
        expect(failed.exitCode).to.equal(1);
        expect(errorOf(failed)).to.include({
          code: 'InjectedFailure',
          message: `Injected failure in ${step} (test switch)`,
        });

        const status = await run(['tenant', 'status', id, '--json'], stack.home);
        if (index === 0) {
          // Nothing was written: there is no record to carry the failure.
          expect(status.exitCode).to.equal(3);
          expect(errorOf(status).code).to.equal('TENANT_NOT_FOUND');
        } else {
          expect(status.exitCode).to.equal(0);
          const { status: tenantStatus, workflow } = status.json as TenantStatusResult;
          expect(tenantStatus).to.equal('PROVISIONING');
          expect(workflow).to.deep.include({
            workflow: 'onboarding',
            status: 'FAILED',
            step,
            completedSteps: steps.slice(0, index),
            error: { name: 'InjectedFailure', message: `Injected failure in ${step} (test switch)` },
          });
        }

        const rerun = onboarded(await run(onboardArgs(id, tier), stack.home));
        expect(rerun.tenant.status).to.equal('ACTIVE');
        expect(rerun.steps.map((s) => s.step)).to.deep.equal(steps);
        // The steps done before the crash are found in place, not done again.
        expect(rerun.steps.slice(0, index).every((s) => s.outcome === 'exists')).to.equal(true);
        expect(rerun.steps[index].outcome).to.equal('created');

        const after = (await run(['tenant', 'status', id, '--json'], stack.home)).json as TenantStatusResult;
        expect(after.workflow).to.deep.include({ status: 'SUCCEEDED', completedSteps: steps });
        await expectNoOrphans(stack, rerun.tenant);
      });
    }
  }
});

describe('silo onboarding after a crash between CreateKey and CreateAlias', function () {
  this.timeout(120_000);
  const stack = useStack();

  async function createTaggedKey(tenantId: string, stage: string): Promise<string> {
    const { KeyMetadata } = await stack.clients.kms().send(
      new CreateKeyCommand({
        Description: 'left behind by a crashed onboarding',
        Tags: [
          { TagKey: TENANT_TAG, TagValue: tenantId },
          { TagKey: STAGE_TAG, TagValue: stage },
        ],
      }),
    );
    return String(KeyMetadata?.KeyId);
  }

  it('adopts the tagged key without alias: the alias points to it and no second key is created', async () => {
    const leftBehind = await createTaggedKey('adopted', STAGE);
    const { tenant } = onboarded(await run(onboardArgs('adopted', 'enterprise'), stack.home));
    expect(tenant.keyArn).to.equal(`arn:aws:kms:us-east-1:000000000000:key/${leftBehind}`);
    const kms = stack.clients.kms();
    const { KeyMetadata } = await kms.send(
      new DescribeKeyCommand({ KeyId: tenantKeyAlias(STAGE, 'adopted') }),
    );
    expect(KeyMetadata?.KeyId).to.equal(leftBehind);
    expect(
      (await kms.send(new GetKeyRotationStatusCommand({ KeyId: leftBehind }))).KeyRotationEnabled,
    ).to.equal(true);
    await expectNoOrphans(stack, tenant);
  });

  it('does not adopt a key tagged with the same tenant in another stage', async () => {
    const otherStage = await createTaggedKey('neighbour', 'prod');
    const { tenant } = onboarded(await run(onboardArgs('neighbour', 'enterprise'), stack.home));
    const { KeyMetadata } = await stack.clients
      .kms()
      .send(new DescribeKeyCommand({ KeyId: tenantKeyAlias(STAGE, 'neighbour') }));
    expect(KeyMetadata?.KeyId).to.be.a('string').and.not.equal(otherStage);
    expect(tenant.keyArn).to.equal(KeyMetadata?.Arn);
  });
});

describe('the per-tenant kill switch', function () {
  this.timeout(120_000);
  const stack = useStack();
  const context = { tenantId: 'vault', table: 'local-tenant-vault', item: 'invoice#1' };
  const secret = Buffer.from('the quarterly numbers');
  const lifetimeMs = 60_000;
  let clock = 0;
  let envelope: TenantEnvelope;
  let sealed: Uint8Array;
  let kmsCiphertext: Uint8Array;
  let keyArn: string;

  before(async () => {
    ({ keyArn } = onboarded(await run(onboardArgs('vault', 'enterprise'), stack.home)).tenant as {
      keyArn: string;
    });
    onboarded(
      await run(
        [
          'tenant',
          'onboard',
          'poolco',
          '--tier',
          'pro',
          '--name',
          'Pooled',
          '--admin-email',
          adminEmail('poolco'),
          '--json',
        ],
        stack.home,
      ),
    );
    // A clock of our own: the cache lifetime passes when the test says so, not after a sleep.
    envelope = new TenantEnvelope(stack.clients.kms(), new DataKeyCache({ lifetimeMs, now: () => clock }));
    sealed = await envelope.encrypt(keyArn, secret, context);
    // A reader that has decrypted once holds the data key for one lifetime.
    expect(Buffer.from(await envelope.decrypt(sealed, context))).to.deep.equal(secret);
    kmsCiphertext = (
      await stack.clients
        .kms()
        .send(new EncryptCommand({ KeyId: keyArn, Plaintext: secret, EncryptionContext: context }))
    ).CiphertextBlob as Uint8Array;
  });

  it('refuses to disable a key without --yes when not on a TTY, and leaves it Enabled', async () => {
    const refused = await spawnCli(['key', 'disable', 'vault', '--reason', 'incident 42'], stack.home);
    expect(refused.exitCode).to.equal(2);
    expect(refused.stderr).to.include('CONFIRMATION_REQUIRED');
    const status = (await run(['key', 'status', 'vault', '--json'], stack.home)).json as KeyStatusResult;
    expect(status).to.include({ keyArn, keyState: 'Enabled', rotationEnabled: true });
  });

  it('answers key status of a pooled tenant with exit 4 POOLED_TENANT_HAS_NO_KEY', async () => {
    const result = await run(['key', 'status', 'poolco', '--json'], stack.home);
    expect(result.exitCode).to.equal(4);
    expect(errorOf(result).code).to.equal('POOLED_TENANT_HAS_NO_KEY');
  });

  it('disables the key, proven by KMS refusing GenerateDataKey and Decrypt with DisabledException', async () => {
    const result = await run(
      ['key', 'disable', 'vault', '--reason', 'incident 42', '--yes', '--json'],
      stack.home,
    );
    expect(result.exitCode, result.stdout).to.equal(0);
    expect(result.json as KeySwitchResult).to.deep.include({
      tenantId: 'vault',
      keyArn,
      keyState: 'Disabled',
      changed: true,
      probe: { generateDataKey: 'refused', error: 'DisabledException' },
    });

    const kms = stack.clients.kms();
    const generate = await rejection(
      kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: context })),
    );
    expect(generate.name).to.equal('DisabledException');
    const decrypt = await rejection(
      kms.send(new DecryptCommand({ CiphertextBlob: kmsCiphertext, EncryptionContext: context })),
    );
    expect(decrypt.name).to.equal('DisabledException');
  });

  it('keeps cached data keys usable until their lifetime has passed, then refuses with TENANT_KEY_UNAVAILABLE', async () => {
    clock = lifetimeMs - 1;
    expect(Buffer.from(await envelope.decrypt(sealed, context))).to.deep.equal(secret);

    clock = lifetimeMs;
    const unreadable = await rejection(envelope.decrypt(sealed, context));
    expect(unreadable).to.be.instanceOf(SaasctlError);
    expect(unreadable).to.include({ code: 'TENANT_KEY_UNAVAILABLE', exitCode: 4 });
    const unwritable = await rejection(envelope.encrypt(keyArn, secret, context));
    expect(unwritable).to.include({ code: 'TENANT_KEY_UNAVAILABLE' });
  });

  it('treats disabling a disabled key as done: unchanged, still refused, not audited again', async () => {
    const again = await run(
      ['key', 'disable', 'vault', '--reason', 'incident 42 again', '--yes', '--json'],
      stack.home,
    );
    expect(again.exitCode).to.equal(0);
    expect(again.json as KeySwitchResult).to.deep.include({
      changed: false,
      keyState: 'Disabled',
      probe: { generateDataKey: 'refused', error: 'DisabledException' },
    });
  });

  it('enables the key again, after which the data is readable again', async () => {
    const result = await run(
      ['key', 'enable', 'vault', '--reason', 'incident 42 closed', '--json'],
      stack.home,
    );
    expect(result.exitCode, result.stdout).to.equal(0);
    expect(result.json as KeySwitchResult).to.deep.include({
      keyState: 'Enabled',
      changed: true,
      probe: { generateDataKey: 'allowed' },
    });
    expect(Buffer.from(await envelope.decrypt(sealed, context))).to.deep.equal(secret);
  });

  it('records key-disable and key-enable in the audit trail with their reasons', async () => {
    const trail = (await audit('vault', stack.home)).filter((a) => a.action.startsWith('key-'));
    expect(trail.map((a) => [a.action, a.reason, a.changes])).to.deep.equal([
      ['key-enable', 'incident 42 closed', { keyState: { from: 'Disabled', to: 'Enabled' } }],
      ['key-disable', 'incident 42', { keyState: { from: 'Enabled', to: 'Disabled' } }],
    ]);
  });
});
