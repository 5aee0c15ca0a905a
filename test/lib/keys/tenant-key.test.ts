import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GenerateDataKeyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  type KeyMetadata,
} from '@aws-sdk/client-kms';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import {
  ensureTenantKey,
  scheduleTenantKeyDeletion,
  setTenantKeyEnabled,
  tenantKeyAlias,
  tenantKeyStatus,
  type TenantKeyRequest,
} from '../../../src/lib/keys/tenant-key.js';
import { awsError, rejectionOf } from '../helpers/aws.js';

const ALIAS = 'alias/saasctl/dev/tenant/acme';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY_ID}`;
const POLICY = '{"Version":"2012-10-17","Statement":[]}';
const DELETION_DATE = new Date('2026-12-04T10:00:00.000Z');

const request: TenantKeyRequest = { stage: 'dev', tenantId: 'acme', tier: 'enterprise', policy: POLICY };

function keyMetadata(overrides: Partial<KeyMetadata> = {}): KeyMetadata {
  return { KeyId: KEY_ID, Arn: KEY_ARN, KeyState: 'Enabled', ...overrides };
}

function arnOf(keyId: string): string {
  return `arn:aws:kms:us-east-1:111122223333:key/${keyId}`;
}

function tags(tenantId: string, stage: string): { Tags: { TagKey: string; TagValue: string }[] } {
  return {
    Tags: [
      { TagKey: 'tenantId', TagValue: tenantId },
      { TagKey: 'tier', TagValue: 'enterprise' },
      { TagKey: 'saasctl:stage', TagValue: stage },
    ],
  };
}

describe('tenant KMS keys', () => {
  let kms: AwsClientStub<KMSClient>;
  let client: KMSClient;

  /** The commands sent, by class name, in the order they were sent. */
  const sent = (): string[] => kms.calls().map((c) => (c.args[0] as object).constructor.name);

  // Created here, not at module level: stubs are process-wide and other spec files stub KMSClient too.
  before(() => {
    kms = mockClient(KMSClient);
  });

  after(() => {
    kms.restore();
  });

  beforeEach(() => {
    kms.reset();
    client = new KMSClient({ region: 'us-east-1' });
  });

  it('names the alias alias/saasctl/<stage>/tenant/<id>', () => {
    expect(tenantKeyAlias('dev', 'acme')).to.equal(ALIAS);
  });

  describe('ensureTenantKey', () => {
    it('uses the key its alias names, creates nothing and leaves rotation that is already on alone', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });

      expect(await ensureTenantKey(client, request)).to.deep.equal({ keyArn: KEY_ARN, created: false });
      expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: ALIAS },
      ]);
      expect(kms.commandCalls(GetKeyRotationStatusCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
      expect(sent()).to.deep.equal(['DescribeKeyCommand', 'GetKeyRotationStatusCommand']);
    });

    it('turns rotation on for the key its alias names when rotation is off', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
      kms.on(EnableKeyRotationCommand).resolves({});

      expect(await ensureTenantKey(client, request)).to.deep.equal({ keyArn: KEY_ARN, created: false });
      expect(kms.commandCalls(EnableKeyRotationCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
      expect(kms.commandCalls(CreateKeyCommand)).to.have.length(0);
      expect(kms.commandCalls(CreateAliasCommand)).to.have.length(0);
      expect(kms.commandCalls(ListKeysCommand)).to.have.length(0);
    });

    it('adopts a key tagged with the tenant and stage found on a later ListKeys page, and gives it the alias', async () => {
      const tagged = 'key-tagged';
      kms.on(DescribeKeyCommand, { KeyId: ALIAS }).rejects(awsError('NotFoundException'));
      kms
        .on(DescribeKeyCommand, { KeyId: tagged })
        .resolves({ KeyMetadata: keyMetadata({ KeyId: tagged, Arn: arnOf(tagged) }) });
      kms
        .on(ListKeysCommand)
        .resolvesOnce({
          Keys: [{ KeyId: 'key-of-globex' }, { KeyId: 'key-of-acme-in-prod' }],
          Truncated: true,
          NextMarker: 'page-2',
        })
        .resolvesOnce({ Keys: [{ KeyId: tagged }], Truncated: false });
      kms.on(ListResourceTagsCommand, { KeyId: 'key-of-globex' }).resolves(tags('globex', 'dev'));
      kms.on(ListResourceTagsCommand, { KeyId: 'key-of-acme-in-prod' }).resolves(tags('acme', 'prod'));
      kms.on(ListResourceTagsCommand, { KeyId: tagged }).resolves(tags('acme', 'dev'));
      kms.on(CreateAliasCommand).resolves({});
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });

      expect(await ensureTenantKey(client, request)).to.deep.equal({ keyArn: arnOf(tagged), created: false });
      expect(kms.commandCalls(ListKeysCommand).map((c) => c.args[0].input)).to.deep.equal([
        { Limit: 100, Marker: undefined },
        { Limit: 100, Marker: 'page-2' },
      ]);
      expect(kms.commandCalls(ListResourceTagsCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: 'key-of-globex' },
        { KeyId: 'key-of-acme-in-prod' },
        { KeyId: tagged },
      ]);
      // Only the key with both tags is described.
      expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: ALIAS },
        { KeyId: tagged },
      ]);
      // Adopted by its tags alone: it gets the tenant key's policy and tags before the alias.
      expect(kms.commandCalls(PutKeyPolicyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: tagged, PolicyName: 'default', Policy: request.policy },
      ]);
      expect(kms.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).to.deep.equal([
        {
          KeyId: tagged,
          Tags: [
            { TagKey: 'tenantId', TagValue: 'acme' },
            { TagKey: 'tier', TagValue: 'enterprise' },
            { TagKey: 'saasctl:stage', TagValue: 'dev' },
          ],
        },
      ]);
      expect(kms.commandCalls(CreateAliasCommand).map((c) => c.args[0].input)).to.deep.equal([
        { AliasName: ALIAS, TargetKeyId: tagged },
      ]);
      expect(kms.commandCalls(CreateKeyCommand)).to.have.length(0);
      expect(kms.commandCalls(EnableKeyRotationCommand)).to.have.length(0);
    });

    it('does not adopt a tagged key that is pending deletion: it creates a new key instead', async () => {
      const doomed = 'key-pending-deletion';
      kms.on(DescribeKeyCommand, { KeyId: ALIAS }).rejects(awsError('NotFoundException'));
      kms.on(DescribeKeyCommand, { KeyId: doomed }).resolves({
        KeyMetadata: keyMetadata({ KeyId: doomed, Arn: arnOf(doomed), KeyState: 'PendingDeletion' }),
      });
      kms.on(ListKeysCommand).resolves({ Keys: [{ KeyId: doomed }], Truncated: false });
      kms.on(ListResourceTagsCommand).resolves(tags('acme', 'dev'));
      kms.on(CreateKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(CreateAliasCommand).resolves({});
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
      kms.on(EnableKeyRotationCommand).resolves({});

      expect(await ensureTenantKey(client, request)).to.deep.equal({ keyArn: KEY_ARN, created: true });
      expect(kms.commandCalls(CreateKeyCommand)).to.have.length(1);
      expect(kms.commandCalls(CreateAliasCommand).map((c) => c.args[0].input)).to.deep.equal([
        { AliasName: ALIAS, TargetKeyId: KEY_ID },
      ]);
      expect(kms.commandCalls(EnableKeyRotationCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
    });

    it('creates the key with its description, usage, spec, policy and three tags, then the alias, then rotation', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
      kms.on(ListKeysCommand).resolves({ Keys: [], Truncated: false });
      kms.on(CreateKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(CreateAliasCommand).resolves({});
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
      kms.on(EnableKeyRotationCommand).resolves({});

      expect(await ensureTenantKey(client, request)).to.deep.equal({ keyArn: KEY_ARN, created: true });
      expect(kms.commandCalls(CreateKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        {
          Description: 'saasctl dev: data key of tenant acme',
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
          Policy: POLICY,
          Tags: [
            { TagKey: 'tenantId', TagValue: 'acme' },
            { TagKey: 'tier', TagValue: 'enterprise' },
            { TagKey: 'saasctl:stage', TagValue: 'dev' },
          ],
        },
      ]);
      expect(kms.commandCalls(CreateAliasCommand).map((c) => c.args[0].input)).to.deep.equal([
        { AliasName: ALIAS, TargetKeyId: KEY_ID },
      ]);
      expect(kms.commandCalls(GetKeyRotationStatusCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
      expect(kms.commandCalls(EnableKeyRotationCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
      expect(sent()).to.deep.equal([
        'DescribeKeyCommand',
        'ListKeysCommand',
        'CreateKeyCommand',
        'CreateAliasCommand',
        'GetKeyRotationStatusCommand',
        'EnableKeyRotationCommand',
      ]);
    });

    it('fails with KMS_NO_KEY when CreateKey returns no key metadata, before creating an alias', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
      kms.on(ListKeysCommand).resolves({ Keys: [] });
      kms.on(CreateKeyCommand).resolves({});

      const err = await rejectionOf(ensureTenantKey(client, request));

      expect(err.code).to.equal('KMS_NO_KEY');
      expect(err.message).to.equal(`KMS returned no key for ${ALIAS}.`);
      expect(kms.commandCalls(CreateAliasCommand)).to.have.length(0);
    });

    it('passes on a DescribeKey failure other than NotFoundException without creating anything', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('AccessDeniedException'));

      let failure: unknown;
      await ensureTenantKey(client, request).catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'AccessDeniedException');
      expect(kms.commandCalls(ListKeysCommand)).to.have.length(0);
      expect(kms.commandCalls(CreateKeyCommand)).to.have.length(0);
    });
    it('refuses a tenant whose aliased key is pending deletion, creating nothing', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata({ KeyState: 'PendingDeletion' }) });

      const err = await rejectionOf(ensureTenantKey(client, request));

      expect(err.code).to.equal('TENANT_KEY_PENDING_DELETION');
      expect(err.exitCode).to.equal(4);
      expect(sent()).to.deep.equal(['DescribeKeyCommand']);
    });

    it('gives way to a concurrent onboarding that named its key first, scheduling its own for deletion', async () => {
      kms
        .on(DescribeKeyCommand, { KeyId: ALIAS })
        .rejectsOnce(awsError('NotFoundException'))
        .resolves({ KeyMetadata: keyMetadata({ KeyId: 'theirs', Arn: arnOf('theirs') }) });
      kms.on(ListKeysCommand).resolves({ Keys: [], Truncated: false });
      kms.on(CreateKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(CreateAliasCommand).rejects(awsError('AlreadyExistsException'));
      kms.on(ScheduleKeyDeletionCommand).resolves({});
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });

      expect(await ensureTenantKey(client, request)).to.deep.equal({
        keyArn: arnOf('theirs'),
        created: false,
      });
      expect(kms.commandCalls(ScheduleKeyDeletionCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID, PendingWindowInDays: 7 },
      ]);
      expect(kms.commandCalls(CreateKeyCommand)).to.have.length(1);
    });
  });

  describe('tenantKeyStatus', () => {
    it('reports the key found by alias with its state and rotation', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });

      expect(await tenantKeyStatus(client, 'dev', 'acme')).to.deep.equal({
        keyArn: KEY_ARN,
        keyId: KEY_ID,
        alias: ALIAS,
        keyState: 'Enabled',
        rotationEnabled: true,
      });
      expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: ALIAS },
      ]);
      expect(kms.commandCalls(GetKeyRotationStatusCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
    });

    it('refuses a tenant without a key with exit 3 TENANT_KEY_NOT_FOUND', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));

      const err = await rejectionOf(tenantKeyStatus(client, 'dev', 'acme'));

      expect(err.code).to.equal('TENANT_KEY_NOT_FOUND');
      expect(err.exitCode).to.equal(3);
      expect(err.message).to.equal(`No KMS key with alias ${ALIAS}.`);
      expect(kms.commandCalls(GetKeyRotationStatusCommand)).to.have.length(0);
    });

    it('does not ask for the rotation of a key pending deletion and reports its deletion date', async () => {
      kms
        .on(DescribeKeyCommand)
        .resolves({ KeyMetadata: keyMetadata({ KeyState: 'PendingDeletion', DeletionDate: DELETION_DATE }) });

      expect(await tenantKeyStatus(client, 'dev', 'acme')).to.deep.equal({
        keyArn: KEY_ARN,
        keyId: KEY_ID,
        alias: ALIAS,
        keyState: 'PendingDeletion',
        rotationEnabled: false,
        deletionDate: '2026-12-04T10:00:00.000Z',
      });
      expect(kms.commandCalls(GetKeyRotationStatusCommand)).to.have.length(0);
    });
  });

  describe('setTenantKeyEnabled (the kill switch)', () => {
    const probeInput = {
      KeyId: KEY_ID,
      KeySpec: 'AES_256',
      EncryptionContext: { tenantId: 'acme', purpose: 'saasctl-kill-switch-probe' },
    };

    beforeEach(() => {
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    });

    it('disables an enabled key and proves it with a GenerateDataKey probe that KMS refuses', async () => {
      kms
        .on(DescribeKeyCommand)
        .resolvesOnce({ KeyMetadata: keyMetadata() })
        .resolves({ KeyMetadata: keyMetadata({ KeyState: 'Disabled' }) });
      kms.on(DisableKeyCommand).resolves({});
      kms.on(GenerateDataKeyCommand).rejects(awsError('DisabledException'));

      expect(await setTenantKeyEnabled(client, 'dev', 'acme', false)).to.deep.equal({
        keyArn: KEY_ARN,
        keyId: KEY_ID,
        alias: ALIAS,
        keyState: 'Disabled',
        rotationEnabled: true,
        changed: true,
        probe: { generateDataKey: 'refused', error: 'DisabledException' },
      });
      expect(kms.commandCalls(DisableKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
      expect(kms.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        probeInput,
      ]);
      expect(kms.commandCalls(EnableKeyCommand)).to.have.length(0);
      // The probe runs after the change, and the status returned is read after the probe.
      expect(sent()).to.deep.equal([
        'DescribeKeyCommand',
        'GetKeyRotationStatusCommand',
        'DisableKeyCommand',
        'GenerateDataKeyCommand',
        'DescribeKeyCommand',
        'GetKeyRotationStatusCommand',
      ]);
    });

    it('sends no DisableKey for a key that is already disabled, reports changed false and still probes', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata({ KeyState: 'Disabled' }) });
      kms.on(GenerateDataKeyCommand).rejects(awsError('DisabledException'));

      const result = await setTenantKeyEnabled(client, 'dev', 'acme', false);

      expect(result.changed).to.equal(false);
      expect(result.probe).to.deep.equal({ generateDataKey: 'refused', error: 'DisabledException' });
      expect(kms.commandCalls(DisableKeyCommand)).to.have.length(0);
      expect(kms.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        probeInput,
      ]);
    });

    it('fails with KILL_SWITCH_NOT_EFFECTIVE when GenerateDataKey still succeeds after the disable', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(DisableKeyCommand).resolves({});
      kms.on(GenerateDataKeyCommand).resolves({ KeyId: KEY_ARN, Plaintext: new Uint8Array(32).fill(7) });

      const err = await rejectionOf(setTenantKeyEnabled(client, 'dev', 'acme', false));

      expect(err.code).to.equal('KILL_SWITCH_NOT_EFFECTIVE');
      expect(err.exitCode).to.equal(1);
      expect(err.message).to.equal(
        'The key of tenant "acme" was disabled, but GenerateDataKey is still allowed.',
      );
      expect(kms.commandCalls(DisableKeyCommand)).to.have.length(1);
    });

    it('passes on a probe failure that is not a refusal by a disabled key', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(DisableKeyCommand).resolves({});
      kms.on(GenerateDataKeyCommand).rejects(awsError('AccessDeniedException'));

      let failure: unknown;
      await setTenantKeyEnabled(client, 'dev', 'acme', false).catch((err: unknown) => (failure = err));

      expect(failure).to.have.property('name', 'AccessDeniedException');
    });

    it('refuses a key pending deletion with exit 4 TENANT_KEY_PENDING_DELETION and changes nothing', async () => {
      kms
        .on(DescribeKeyCommand)
        .resolves({ KeyMetadata: keyMetadata({ KeyState: 'PendingDeletion', DeletionDate: DELETION_DATE }) });

      const err = await rejectionOf(setTenantKeyEnabled(client, 'dev', 'acme', false));

      expect(err.code).to.equal('TENANT_KEY_PENDING_DELETION');
      expect(err.exitCode).to.equal(4);
      expect(kms.commandCalls(DisableKeyCommand)).to.have.length(0);
      expect(kms.commandCalls(EnableKeyCommand)).to.have.length(0);
      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(0);
    });

    it('enables a disabled key, proves GenerateDataKey works again and wipes the probe plaintext', async () => {
      const plaintext = new Uint8Array(32).fill(7);
      kms
        .on(DescribeKeyCommand)
        .resolvesOnce({ KeyMetadata: keyMetadata({ KeyState: 'Disabled' }) })
        .resolves({ KeyMetadata: keyMetadata() });
      kms.on(EnableKeyCommand).resolves({});
      kms.on(GenerateDataKeyCommand).resolves({ KeyId: KEY_ARN, Plaintext: plaintext });

      expect(await setTenantKeyEnabled(client, 'dev', 'acme', true)).to.deep.equal({
        keyArn: KEY_ARN,
        keyId: KEY_ID,
        alias: ALIAS,
        keyState: 'Enabled',
        rotationEnabled: true,
        changed: true,
        probe: { generateDataKey: 'allowed' },
      });
      expect(kms.commandCalls(EnableKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID },
      ]);
      expect(kms.commandCalls(DisableKeyCommand)).to.have.length(0);
      expect(kms.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        probeInput,
      ]);
      expect([...plaintext].every((byte) => byte === 0)).to.equal(true);
    });

    it('fails with KILL_SWITCH_NOT_EFFECTIVE when an enabled key is still refused, naming the error', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata({ KeyState: 'Disabled' }) });
      kms.on(EnableKeyCommand).resolves({});
      kms.on(GenerateDataKeyCommand).rejects(awsError('DisabledException'));

      const err = await rejectionOf(setTenantKeyEnabled(client, 'dev', 'acme', true));

      expect(err.code).to.equal('KILL_SWITCH_NOT_EFFECTIVE');
      expect(err.message).to.equal(
        'The key of tenant "acme" was enabled, but GenerateDataKey is still refused (DisabledException).',
      );
    });
  });

  describe('scheduleTenantKeyDeletion', () => {
    it('schedules the deletion with the requested pending window and returns the date', async () => {
      kms.on(DescribeKeyCommand).resolves({ KeyMetadata: keyMetadata() });
      kms.on(ScheduleKeyDeletionCommand).resolves({ KeyId: KEY_ARN, DeletionDate: DELETION_DATE });

      expect(await scheduleTenantKeyDeletion(client, 'dev', 'acme', 7)).to.deep.equal({
        changed: true,
        deletionDate: '2026-12-04T10:00:00.000Z',
      });
      expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: ALIAS },
      ]);
      expect(kms.commandCalls(ScheduleKeyDeletionCommand).map((c) => c.args[0].input)).to.deep.equal([
        { KeyId: KEY_ID, PendingWindowInDays: 7 },
      ]);
    });

    it('sends nothing for a key already pending deletion and returns its existing date', async () => {
      kms
        .on(DescribeKeyCommand)
        .resolves({ KeyMetadata: keyMetadata({ KeyState: 'PendingDeletion', DeletionDate: DELETION_DATE }) });

      expect(await scheduleTenantKeyDeletion(client, 'dev', 'acme', 30)).to.deep.equal({
        changed: false,
        deletionDate: '2026-12-04T10:00:00.000Z',
      });
      expect(kms.commandCalls(ScheduleKeyDeletionCommand)).to.have.length(0);
    });

    it('reports changed false when the tenant has no key', async () => {
      kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));

      expect(await scheduleTenantKeyDeletion(client, 'dev', 'acme', 7)).to.deep.equal({ changed: false });
      expect(kms.commandCalls(ScheduleKeyDeletionCommand)).to.have.length(0);
    });
  });
});
