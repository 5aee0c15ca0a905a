import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  type DecryptCommandInput,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type KeyMetadata,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  NotFoundException,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-kms';
import { expect } from 'chai';

import { startKmsEmulator } from '../../../../src/lib/local/emulators/kms.js';
import type { RunningService } from '../../../../src/lib/local/services.js';

// As in test/lib/helpers/aws.ts: the lockfile pins SDK releases that support Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const ARN_PREFIX = `arn:aws:kms:${REGION}:${ACCOUNT}:`;
const DAY_MS = 86_400_000;

describe('KMS emulator', () => {
  let directory: string;
  let emulator: RunningService;
  let client: KMSClient;

  async function start(): Promise<void> {
    emulator = await startKmsEmulator({ directory, region: REGION, accountId: ACCOUNT });
    client = new KMSClient({
      endpoint: emulator.endpoint,
      region: REGION,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
  }

  async function stop(): Promise<void> {
    client.destroy();
    await emulator.stop();
  }

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'saasctl-kms-'));
    await start();
  });

  afterEach(async () => {
    await stop();
    await rm(directory, { recursive: true, force: true });
  });

  async function createKey(input: CreateKeyCommandInput = {}): Promise<KeyMetadata & { KeyId: string }> {
    const { KeyMetadata: metadata } = await client.send(new CreateKeyCommand(input));
    const keyId = metadata?.KeyId;
    if (!metadata || !keyId) expect.fail('CreateKey returned no KeyMetadata.KeyId');
    return { ...metadata, KeyId: keyId };
  }

  async function encrypt(keyId: string, text: string, context?: Record<string, string>): Promise<Uint8Array> {
    const { CiphertextBlob } = await client.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text), EncryptionContext: context }),
    );
    return defined(CiphertextBlob);
  }

  async function decrypt(input: DecryptCommandInput): Promise<string> {
    const { Plaintext } = await client.send(new DecryptCommand(input));
    return Buffer.from(defined(Plaintext)).toString('utf8');
  }

  function post(target: string, body: string): Promise<Response> {
    return fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      body,
    });
  }

  async function aliasNames(keyId?: string): Promise<string[]> {
    const { Aliases } = await client.send(new ListAliasesCommand({ KeyId: keyId }));
    return (Aliases ?? []).map((alias) => alias.AliasName ?? '');
  }

  describe('keys', () => {
    it('lists every key with its ARN, page by page', async () => {
      const created = [];
      for (let i = 0; i < 3; i++) created.push((await createKey()).KeyId);
      const first = await client.send(new ListKeysCommand({ Limit: 2 }));
      expect(first.Keys).to.have.length(2);
      expect(first.Truncated).to.equal(true);
      const second = await client.send(new ListKeysCommand({ Limit: 2, Marker: first.NextMarker }));
      expect(second.Truncated).to.equal(false);
      const listed = [...(first.Keys ?? []), ...(second.Keys ?? [])];
      expect(listed.map((k) => k.KeyId).sort()).to.deep.equal([...created].sort());
      for (const key of listed) expect(key.KeyArn).to.equal(`${ARN_PREFIX}key/${key.KeyId}`);
    });

    it('creates an enabled symmetric customer key with a UUID and an ARN in its region and account', async () => {
      const before = Date.now();
      const key = await createKey({ Description: 'tenant acme' });

      expect(key.KeyId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(key).to.include({
        Arn: `${ARN_PREFIX}key/${key.KeyId}`,
        AWSAccountId: ACCOUNT,
        Description: 'tenant acme',
        Enabled: true,
        KeyState: 'Enabled',
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyManager: 'CUSTOMER',
        Origin: 'AWS_KMS',
      });
      expect(key.EncryptionAlgorithms).to.deep.equal(['SYMMETRIC_DEFAULT']);
      expect(key.CreationDate).to.be.instanceOf(Date);
      expect(key.CreationDate?.getTime()).to.be.within(before - 1000, Date.now() + 1000);
      expect(key.DeletionDate).to.equal(undefined);
    });

    it('refuses key usages, key specs and origins it does not implement', async () => {
      await expectFailure(createKey({ KeyUsage: 'SIGN_VERIFY' }), 'UnsupportedOperationException');
      await expectFailure(createKey({ KeySpec: 'RSA_2048' }), 'UnsupportedOperationException');
      await expectFailure(createKey({ Origin: 'EXTERNAL' }), 'UnsupportedOperationException');
    });

    it('describes a key by key id, key ARN, alias name and alias ARN', async () => {
      const key = await createKey();
      await client.send(new CreateAliasCommand({ AliasName: 'alias/tenant-acme', TargetKeyId: key.KeyId }));

      for (const keyId of [key.KeyId, key.Arn, 'alias/tenant-acme', `${ARN_PREFIX}alias/tenant-acme`]) {
        const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
        expect(KeyMetadata?.KeyId, String(keyId)).to.equal(key.KeyId);
      }
    });

    it('answers NotFoundException for an unknown key id, key ARN, alias, or another account’s ARN', async () => {
      const key = await createKey();
      const unknown = [
        '00000000-0000-0000-0000-000000000000',
        `${ARN_PREFIX}key/00000000-0000-0000-0000-000000000000`,
        'alias/missing',
        `${ARN_PREFIX}alias/missing`,
        `arn:aws:kms:${REGION}:999999999999:key/${key.KeyId}`,
        'constructor',
      ];
      for (const keyId of unknown) {
        const error = await expectFailure(
          client.send(new DescribeKeyCommand({ KeyId: keyId })),
          'NotFoundException',
        );
        expect(error, keyId).to.be.instanceOf(NotFoundException);
      }
    });

    it('sends errors the SDK raises as its modelled exceptions, with HTTP 400 and a request id', async () => {
      const error = await failure(client.send(new DescribeKeyCommand({ KeyId: 'alias/missing' })));
      expect(error).to.be.instanceOf(NotFoundException);
      const { $metadata, message } = error as NotFoundException;
      expect($metadata.httpStatusCode).to.equal(400);
      expect($metadata.requestId).to.be.a('string').and.not.empty;
      expect(message).to.contain('alias/missing');
    });

    it('answers an unknown operation with UnknownOperationException and HTTP 400', async () => {
      for (const target of ['TrentService.ReEncrypt', 'TrentService.constructor', 'OtherService.Encrypt']) {
        const response = await post(target, '{}');
        expect(response.status, target).to.equal(400);
        expect(await response.json(), target).to.include({ __type: 'UnknownOperationException' });
      }
    });

    it('answers a body that is not a JSON object with SerializationException and HTTP 400', async () => {
      for (const body of ['{"KeyId":', '[]']) {
        const response = await post('TrentService.DescribeKey', body);
        expect(response.status, body).to.equal(400);
        expect(await response.json(), body).to.include({ __type: 'SerializationException' });
      }
    });
  });

  describe('key policy', () => {
    it('returns the policy given at creation under the default policy name', async () => {
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [] });
      const key = await createKey({ Policy: policy });

      for (const PolicyName of [undefined, 'default']) {
        const result = await client.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName }));
        expect(result).to.include({ Policy: policy, PolicyName: 'default' });
      }
      await expectFailure(
        client.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'other' })),
        'NotFoundException',
      );
    });

    it('gives a key created without a policy the default one, which trusts the account root', async () => {
      const key = await createKey();
      const { Policy } = await client.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }));
      const statement = (JSON.parse(Policy ?? '{}') as { Statement: Record<string, unknown>[] }).Statement[0];
      expect(statement).to.deep.include({
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'kms:*',
      });
    });

    it('refuses a policy that is not JSON with MalformedPolicyDocumentException', async () => {
      await expectFailure(createKey({ Policy: 'allow everyone' }), 'MalformedPolicyDocumentException');
    });
  });

  describe('aliases', () => {
    it('refuses alias names outside alias/ or inside the reserved alias/aws/ with ValidationException', async () => {
      const key = await createKey();
      for (const AliasName of ['tenant-acme', 'alias/', 'alias/aws/tenant-acme', 'alias/with space']) {
        await expectFailure(
          client.send(new CreateAliasCommand({ AliasName, TargetKeyId: key.KeyId })),
          'ValidationException',
        );
      }
      expect(await aliasNames()).to.deep.equal([]);
    });

    it('refuses an alias name that is already taken with AlreadyExistsException', async () => {
      const first = await createKey();
      const second = await createKey();
      await client.send(new CreateAliasCommand({ AliasName: 'alias/tenant-acme', TargetKeyId: first.KeyId }));

      await expectFailure(
        client.send(new CreateAliasCommand({ AliasName: 'alias/tenant-acme', TargetKeyId: second.KeyId })),
        'AlreadyExistsException',
      );
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: 'alias/tenant-acme' }));
      expect(KeyMetadata?.KeyId).to.equal(first.KeyId);
    });

    it('refuses an alias for a key that does not exist with NotFoundException', async () => {
      await expectFailure(
        client.send(
          new CreateAliasCommand({
            AliasName: 'alias/orphan',
            TargetKeyId: '00000000-0000-0000-0000-000000000000',
          }),
        ),
        'NotFoundException',
      );
    });

    it('lists aliases with their ARNs and target keys, filtered by KeyId', async () => {
      const acme = await createKey();
      const globex = await createKey();
      await client.send(new CreateAliasCommand({ AliasName: 'alias/acme', TargetKeyId: acme.KeyId }));
      await client.send(new CreateAliasCommand({ AliasName: 'alias/globex', TargetKeyId: globex.Arn }));

      const { Aliases, Truncated } = await client.send(new ListAliasesCommand({ KeyId: globex.KeyId }));
      expect(Truncated).to.equal(false);
      expect(Aliases).to.have.length(1);
      expect(Aliases?.[0]).to.include({
        AliasName: 'alias/globex',
        AliasArn: `${ARN_PREFIX}alias/globex`,
        TargetKeyId: globex.KeyId,
      });
      expect(Aliases?.[0]?.CreationDate).to.be.instanceOf(Date);
      expect(await aliasNames()).to.deep.equal(['alias/acme', 'alias/globex']);
    });

    it('pages through aliases with Limit, NextMarker and Truncated', async () => {
      const key = await createKey();
      const names = ['alias/e', 'alias/a', 'alias/d', 'alias/b', 'alias/c'];
      for (const AliasName of names) {
        await client.send(new CreateAliasCommand({ AliasName, TargetKeyId: key.KeyId }));
      }

      const pages: { names: string[]; truncated?: boolean; marker?: string }[] = [];
      let Marker: string | undefined;
      do {
        const page = await client.send(new ListAliasesCommand({ Limit: 2, Marker }));
        Marker = page.NextMarker;
        pages.push({
          names: (page.Aliases ?? []).map((alias) => alias.AliasName ?? ''),
          truncated: page.Truncated,
          marker: page.NextMarker,
        });
      } while (Marker !== undefined && pages.length < 10);

      expect(pages.map((page) => page.names)).to.deep.equal([
        ['alias/a', 'alias/b'],
        ['alias/c', 'alias/d'],
        ['alias/e'],
      ]);
      expect(pages.map((page) => page.truncated)).to.deep.equal([true, true, false]);
      expect(pages[2]?.marker).to.equal(undefined);
    });

    it('refuses a Limit outside 1-100 with ValidationException and a forged marker with InvalidMarkerException', async () => {
      for (const Limit of [0, 101]) {
        await expectFailure(client.send(new ListAliasesCommand({ Limit })), 'ValidationException');
      }
      await expectFailure(
        client.send(new ListAliasesCommand({ Marker: 'alias/a' })),
        'InvalidMarkerException',
      );
    });
  });

  describe('tags', () => {
    it('tags a key at creation and later, replaces the values of existing tag keys, and untags it', async () => {
      const key = await createKey({ Tags: [{ TagKey: 'tenant', TagValue: 'acme' }] });
      await client.send(
        new TagResourceCommand({
          KeyId: key.Arn,
          Tags: [
            { TagKey: 'tier', TagValue: 'pro' },
            { TagKey: 'tenant', TagValue: 'acme-corp' },
          ],
        }),
      );
      expect((await client.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags).to.deep.equal([
        { TagKey: 'tenant', TagValue: 'acme-corp' },
        { TagKey: 'tier', TagValue: 'pro' },
      ]);

      await client.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['tier', 'absent'] }));
      const { Tags, Truncated } = await client.send(new ListResourceTagsCommand({ KeyId: key.KeyId }));
      expect(Tags).to.deep.equal([{ TagKey: 'tenant', TagValue: 'acme-corp' }]);
      expect(Truncated).to.equal(false);
    });

    it('refuses tag keys in the reserved aws: namespace with TagException', async () => {
      const key = await createKey();
      await expectFailure(
        client.send(
          new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'aws:owner', TagValue: 'x' }] }),
        ),
        'TagException',
      );
      await expectFailure(createKey({ Tags: [{ TagKey: 'aws:owner', TagValue: 'x' }] }), 'TagException');
    });
  });

  describe('rotation', () => {
    it('turns automatic rotation on with a 365-day default period, and off again', async () => {
      const key = await createKey();
      const status = () => client.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
      expect((await status()).KeyRotationEnabled).to.equal(false);

      await client.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
      expect(await status()).to.include({ KeyRotationEnabled: true, RotationPeriodInDays: 365 });

      await client.send(new DisableKeyRotationCommand({ KeyId: key.KeyId }));
      expect((await status()).KeyRotationEnabled).to.equal(false);
    });
  });

  describe('encryption', () => {
    it('round-trips Encrypt and Decrypt, finding the key from the ciphertext alone', async () => {
      const key = await createKey();
      const first = await encrypt(key.KeyId, 'tenant secret');
      const second = await encrypt(key.KeyId, 'tenant secret');

      expect(Buffer.from(first).includes('tenant secret')).to.equal(false);
      expect(Buffer.from(first).equals(Buffer.from(second)), 'a fresh IV each time').to.equal(false);
      const result = await client.send(new DecryptCommand({ CiphertextBlob: first }));
      expect(Buffer.from(defined(result.Plaintext)).toString()).to.equal('tenant secret');
      expect(result).to.include({ KeyId: key.Arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      expect(await decrypt({ CiphertextBlob: second, KeyId: key.KeyId })).to.equal('tenant secret');
    });

    it('encrypts and decrypts through an alias', async () => {
      const key = await createKey();
      await client.send(new CreateAliasCommand({ AliasName: 'alias/tenant-acme', TargetKeyId: key.KeyId }));

      const blob = await encrypt('alias/tenant-acme', 'via alias');
      expect(await decrypt({ CiphertextBlob: blob, KeyId: `${ARN_PREFIX}alias/tenant-acme` })).to.equal(
        'via alias',
      );
    });

    it('generates data keys whose CiphertextBlob decrypts to their Plaintext', async () => {
      const key = await createKey();
      for (const [input, length] of [
        [{ KeySpec: 'AES_256' as const }, 32],
        [{ KeySpec: 'AES_128' as const }, 16],
        [{ NumberOfBytes: 1024 }, 1024],
      ] as const) {
        const dataKey = await client.send(
          new GenerateDataKeyCommand({ KeyId: key.KeyId, EncryptionContext: { tenant: 'acme' }, ...input }),
        );
        expect(dataKey.KeyId).to.equal(key.Arn);
        const plaintext = Buffer.from(defined(dataKey.Plaintext));
        expect(plaintext).to.have.length(length);
        const decrypted = await client.send(
          new DecryptCommand({
            CiphertextBlob: dataKey.CiphertextBlob,
            EncryptionContext: { tenant: 'acme' },
          }),
        );
        expect(Buffer.from(defined(decrypted.Plaintext)).equals(plaintext)).to.equal(true);
      }
    });

    it('refuses a data key request with neither or both of KeySpec and NumberOfBytes, or over 1024 bytes', async () => {
      const key = await createKey();
      for (const input of [{}, { KeySpec: 'AES_256' as const, NumberOfBytes: 32 }, { NumberOfBytes: 1025 }]) {
        await expectFailure(
          client.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, ...input })),
          'ValidationException',
        );
      }
    });

    it('binds the encryption context: another, a missing or an extra pair fails with InvalidCiphertextException', async () => {
      const key = await createKey();
      const context = { tenant: 'acme', purpose: 'tenant-data' };
      const blob = await encrypt(key.KeyId, 'bound', context);

      expect(
        await decrypt({
          CiphertextBlob: blob,
          EncryptionContext: { purpose: 'tenant-data', tenant: 'acme' },
        }),
        'the same pairs in another order',
      ).to.equal('bound');
      const mismatched: (Record<string, string> | undefined)[] = [
        { tenant: 'globex', purpose: 'tenant-data' },
        { tenant: 'acme' },
        { ...context, extra: 'x' },
        undefined,
      ];
      for (const EncryptionContext of mismatched) {
        await expectFailure(
          client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext })),
          'InvalidCiphertextException',
        );
      }
    });

    it('refuses Decrypt naming a key other than the one that encrypted with IncorrectKeyException', async () => {
      const key = await createKey();
      const other = await createKey();
      const blob = await encrypt(key.KeyId, 'for key one');

      await expectFailure(
        client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: other.KeyId })),
        'IncorrectKeyException',
      );
    });

    it('refuses garbage, truncated and tampered ciphertext with InvalidCiphertextException', async () => {
      const key = await createKey();
      const blob = Buffer.from(await encrypt(key.KeyId, 'tamper with me'));
      const tampered = Buffer.from(blob);
      tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;

      for (const CiphertextBlob of [Buffer.from('not a ciphertext at all'), blob.subarray(0, 30), tampered]) {
        await expectFailure(
          client.send(new DecryptCommand({ CiphertextBlob })),
          'InvalidCiphertextException',
        );
      }
    });
  });

  describe('key state', () => {
    it('fails Encrypt, GenerateDataKey and Decrypt with DisabledException while the key is disabled', async () => {
      const key = await createKey();
      const blob = await encrypt(key.KeyId, 'before disabling');

      await client.send(new DisableKeyCommand({ KeyId: key.KeyId }));
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(KeyMetadata).to.include({ KeyState: 'Disabled', Enabled: false });
      await expectFailure(encrypt(key.KeyId, 'x'), 'DisabledException');
      await expectFailure(
        client.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' })),
        'DisabledException',
      );
      await expectFailure(decrypt({ CiphertextBlob: blob }), 'DisabledException');

      await client.send(new EnableKeyCommand({ KeyId: key.KeyId }));
      expect(await decrypt({ CiphertextBlob: blob })).to.equal('before disabling');
      await client.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
    });

    it('schedules deletion 30 days out by default and refuses windows outside 7-30 days', async () => {
      const key = await createKey();
      for (const PendingWindowInDays of [6, 31]) {
        await expectFailure(
          client.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays })),
          'ValidationException',
        );
      }

      const scheduled = await client.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId }));
      expect(scheduled).to.include({ KeyId: key.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30 });
      expect(scheduled.DeletionDate?.getTime()).to.be.closeTo(Date.now() + 30 * DAY_MS, 60_000);
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(KeyMetadata).to.include({ KeyState: 'PendingDeletion', Enabled: false });
      expect(KeyMetadata?.DeletionDate?.getTime()).to.equal(scheduled.DeletionDate?.getTime());
    });

    it('honours a 7-day deletion window', async () => {
      const key = await createKey();
      const scheduled = await client.send(
        new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }),
      );
      expect(scheduled.DeletionDate?.getTime()).to.be.closeTo(Date.now() + 7 * DAY_MS, 60_000);
    });

    it('refuses to use, enable, disable or reschedule a key pending deletion with KMSInvalidStateException', async () => {
      const key = await createKey();
      const blob = await encrypt(key.KeyId, 'doomed');
      await client.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));

      const attempts: [string, () => Promise<unknown>][] = [
        ['Encrypt', () => encrypt(key.KeyId, 'x')],
        ['Decrypt', () => decrypt({ CiphertextBlob: blob })],
        [
          'GenerateDataKey',
          () => client.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, NumberOfBytes: 8 })),
        ],
        ['EnableKey', () => client.send(new EnableKeyCommand({ KeyId: key.KeyId }))],
        ['DisableKey', () => client.send(new DisableKeyCommand({ KeyId: key.KeyId }))],
        ['ScheduleKeyDeletion', () => client.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId }))],
      ];
      for (const [operation, attempt] of attempts) {
        const error = await failure(attempt());
        expect(error.name, operation).to.equal('KMSInvalidStateException');
      }
    });

    it('cancels a scheduled deletion, leaving the key disabled as AWS does', async () => {
      const key = await createKey();
      await expectFailure(
        client.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId })),
        'KMSInvalidStateException',
      );
      await client.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId }));

      const cancelled = await client.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
      expect(cancelled.KeyId).to.equal(key.Arn);
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(KeyMetadata).to.include({ KeyState: 'Disabled', Enabled: false });
      expect(KeyMetadata?.DeletionDate).to.equal(undefined);
      await client.send(new EnableKeyCommand({ KeyId: key.KeyId }));
      await encrypt(key.KeyId, 'usable again');
    });
  });

  describe('persistence', () => {
    it('keeps keys, aliases, tags, rotation, key state and key material across a restart', async () => {
      const key = await createKey({
        Description: 'survivor',
        Tags: [{ TagKey: 'tenant', TagValue: 'acme' }],
      });
      await client.send(new CreateAliasCommand({ AliasName: 'alias/tenant-acme', TargetKeyId: key.KeyId }));
      await client.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
      const blob = await encrypt('alias/tenant-acme', 'written before the restart', { tenant: 'acme' });
      const disabled = await createKey();
      await client.send(new DisableKeyCommand({ KeyId: disabled.KeyId }));
      const doomed = await createKey();
      const { DeletionDate } = await client.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.KeyId }));

      await stop();
      await start();

      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: 'alias/tenant-acme' }));
      expect(KeyMetadata).to.include({ KeyId: key.KeyId, Description: 'survivor', KeyState: 'Enabled' });
      expect(KeyMetadata?.CreationDate?.getTime()).to.equal(key.CreationDate?.getTime());
      expect(await aliasNames(key.KeyId)).to.deep.equal(['alias/tenant-acme']);
      expect((await client.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags).to.deep.equal([
        { TagKey: 'tenant', TagValue: 'acme' },
      ]);
      expect(
        (await client.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled,
      ).to.equal(true);
      expect(await decrypt({ CiphertextBlob: blob, EncryptionContext: { tenant: 'acme' } })).to.equal(
        'written before the restart',
      );
      await expectFailure(encrypt(disabled.KeyId, 'x'), 'DisabledException');
      const doomedNow = (await client.send(new DescribeKeyCommand({ KeyId: doomed.KeyId }))).KeyMetadata;
      expect(doomedNow?.KeyState).to.equal('PendingDeletion');
      expect(doomedNow?.DeletionDate?.getTime()).to.equal(DeletionDate?.getTime());
    });

    it('keeps its state file, which holds key material, readable by its owner only and leaves no temporary file', async () => {
      await createKey();
      expect(await readdir(directory)).to.deep.equal(['kms.json']);
      expect((await stat(path.join(directory, 'kms.json'))).mode & 0o077).to.equal(0);
    });
  });
});

function defined<T>(value: T | undefined): T {
  if (value === undefined) expect.fail('expected a value in the response');
  return value;
}

/** The error a promise rejects with; fails the test when it resolves. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(Error);
    return error as Error;
  }
  expect.fail(`expected a failure, got ${JSON.stringify(outcome)}`);
}

async function expectFailure(promise: Promise<unknown>, name: string): Promise<Error> {
  const error = await failure(promise);
  expect(error.name, error.message).to.equal(name);
  return error;
}
