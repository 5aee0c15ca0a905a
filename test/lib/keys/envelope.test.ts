import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type DecryptCommandInput,
  type GenerateDataKeyCommandInput,
} from '@aws-sdk/client-kms';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { expect } from 'chai';

import { SaasctlError } from '../../../src/lib/cli/errors.js';
import { DataKeyCache } from '../../../src/lib/keys/data-key-cache.js';
import { canonicalContext, TenantEnvelope } from '../../../src/lib/keys/envelope.js';
import { awsError, rejectionOf } from '../helpers/aws.js';

const KEY_ID = 'arn:aws:kms:us-east-1:111122223333:key/acme-key';
const CONTEXT = { tenantId: 'acme', table: 'orders' };
const LIFETIME = 300_000;
const message = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));

/** Offsets in a version-1 envelope, given the length of its encrypted data key. */
function layout(envelope: Uint8Array): { keyLength: number; ivStart: number; ciphertextStart: number } {
  const keyLength = Buffer.from(envelope).readUInt16BE(1);
  return { keyLength, ivStart: 3 + keyLength, ciphertextStart: 3 + keyLength + 12 + 16 };
}

function encryptedDataKeyOf(envelope: Uint8Array): string {
  const { ivStart } = layout(envelope);
  return Buffer.from(envelope.subarray(3, ivStart)).toString();
}

interface IssuedKey {
  readonly plaintext: Buffer;
  readonly context: Record<string, string> | undefined;
  readonly keyId: string | undefined;
}

describe('TenantEnvelope', () => {
  let kms: AwsClientStub<KMSClient>;
  let clock: number;
  let cache: DataKeyCache;
  let envelope: TenantEnvelope;
  /** What the fake KMS issued, by fake CiphertextBlob: Decrypt maps a blob back to its key. */
  const issued = new Map<string, IssuedKey>();
  /** The Plaintext buffers the fake KMS returned, to check that they were zero-filled. */
  const returnedPlaintexts: Uint8Array[] = [];

  // Created here, not at module level: other spec files in this mocha process mock SDK clients too.
  before(() => {
    kms = mockClient(KMSClient);
  });

  after(() => {
    kms.restore();
  });

  beforeEach(() => {
    kms.reset();
    issued.clear();
    returnedPlaintexts.length = 0;
    // Like KMS: a random key, a blob that only this KMS can map back, and the context bound to it.
    kms.on(GenerateDataKeyCommand).callsFake(async (input: GenerateDataKeyCommandInput) => {
      const plaintext = randomBytes(32);
      const blob = Buffer.from(`blob-${issued.size + 1}-${input.KeyId}`);
      issued.set(blob.toString('base64'), {
        plaintext: Buffer.from(plaintext),
        context: input.EncryptionContext,
        keyId: input.KeyId,
      });
      returnedPlaintexts.push(plaintext);
      return { KeyId: input.KeyId, Plaintext: plaintext, CiphertextBlob: blob };
    });
    kms.on(DecryptCommand).callsFake(async (input: DecryptCommandInput) => {
      const found = issued.get(Buffer.from(input.CiphertextBlob ?? []).toString('base64'));
      if (!found || !isDeepStrictEqual(found.context, input.EncryptionContext)) {
        throw awsError('InvalidCiphertextException');
      }
      const plaintext = Buffer.from(found.plaintext);
      returnedPlaintexts.push(plaintext);
      return { KeyId: found.keyId, Plaintext: plaintext };
    });
    clock = 0;
    cache = new DataKeyCache({ now: () => clock, lifetimeMs: LIFETIME });
    envelope = new TenantEnvelope(new KMSClient({ region: 'us-east-1' }), cache);
  });

  it('canonicalises the context: keys sorted by code unit, JSON-encoded, integer-like keys included', () => {
    expect(canonicalContext({ tenantId: 'acme', b: '1', a: '"x"', '10': 'p', '2': 'q' })).to.equal(
      '{"10":"p","2":"q","a":"\\"x\\"","b":"1","tenantId":"acme"}',
    );
    expect(canonicalContext({ table: 'orders', tenantId: 'acme' })).to.equal(
      canonicalContext({ tenantId: 'acme', table: 'orders' }),
    );
  });

  describe('round trip', () => {
    it('encrypts locally under a KMS data key and decrypts it back, sending KMS exactly the key, spec and context', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('invoice 42: 1,200 EUR'), CONTEXT);

      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(1);
      expect(kms.commandCalls(GenerateDataKeyCommand)[0].args[0].input).to.deep.equal({
        KeyId: KEY_ID,
        KeySpec: 'AES_256',
        EncryptionContext: CONTEXT,
      });
      expect(sealed[0]).to.equal(1);
      expect(encryptedDataKeyOf(sealed)).to.equal(`blob-1-${KEY_ID}`);
      expect(Buffer.from(sealed).includes(Buffer.from('invoice 42'))).to.equal(false);

      const opened = await envelope.decrypt(sealed, { table: 'orders', tenantId: 'acme' });

      expect(Buffer.from(opened).toString()).to.equal('invoice 42: 1,200 EUR');
      expect(kms.commandCalls(DecryptCommand)).to.have.length(1);
      expect(kms.commandCalls(DecryptCommand)[0].args[0].input).to.deep.equal({
        CiphertextBlob: new Uint8Array(Buffer.from(`blob-1-${KEY_ID}`)),
        EncryptionContext: CONTEXT,
      });
    });

    it('round-trips an empty message and a 1 MiB one', async () => {
      const large = randomBytes(1024 * 1024);
      for (const plaintext of [new Uint8Array(0), large]) {
        const sealed = await envelope.encrypt(KEY_ID, plaintext, CONTEXT);
        expect(Buffer.from(await envelope.decrypt(sealed, CONTEXT)).equals(plaintext)).to.equal(true);
      }
    });

    it('uses a fresh random IV per message under the same data key', async () => {
      const first = await envelope.encrypt(KEY_ID, message('same'), CONTEXT);
      const second = await envelope.encrypt(KEY_ID, message('same'), CONTEXT);

      expect(encryptedDataKeyOf(first)).to.equal(encryptedDataKeyOf(second));
      const { ivStart } = layout(first);
      expect(
        Buffer.from(first.subarray(ivStart, ivStart + 12)).equals(second.subarray(ivStart, ivStart + 12)),
      ).to.be.false;
    });

    it('zero-fills the plaintext data keys KMS returned once they are copied', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('x'), CONTEXT);
      await envelope.decrypt(sealed, CONTEXT);

      expect(returnedPlaintexts).to.have.length(2);
      for (const plaintext of returnedPlaintexts)
        expect(plaintext.every((byte) => byte === 0)).to.equal(true);
    });
  });

  describe('data key caching', () => {
    it('generates one data key for many messages within the lifetime', async () => {
      const sealed: Uint8Array[] = [];
      for (let i = 0; i < 50; i += 1) {
        clock = i * 1_000;
        sealed.push(await envelope.encrypt(KEY_ID, message(`m${i}`), CONTEXT));
      }

      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(1);
      expect(new Set(sealed.map(encryptedDataKeyOf)).size).to.equal(1);
    });

    it('unwraps a data key once for many decrypts within the lifetime', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('hello'), CONTEXT);
      for (let i = 0; i < 20; i += 1) {
        clock = i * 10_000;
        expect(Buffer.from(await envelope.decrypt(sealed, CONTEXT)).toString()).to.equal('hello');
      }

      expect(kms.commandCalls(DecryptCommand)).to.have.length(1);
    });

    it('generates a new data key once the lifetime has passed since KMS issued it, however often it was used', async () => {
      await envelope.encrypt(KEY_ID, message('a'), CONTEXT);
      clock = LIFETIME - 1;
      await envelope.encrypt(KEY_ID, message('b'), CONTEXT);
      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(1);

      clock = LIFETIME;
      const sealed = await envelope.encrypt(KEY_ID, message('c'), CONTEXT);

      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(2);
      expect(encryptedDataKeyOf(sealed)).to.equal(`blob-2-${KEY_ID}`);
    });

    it('unwraps the data key again once the lifetime has passed since KMS decrypted it', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('a'), CONTEXT);
      await envelope.decrypt(sealed, CONTEXT);
      clock = LIFETIME - 1;
      await envelope.decrypt(sealed, CONTEXT);
      expect(kms.commandCalls(DecryptCommand)).to.have.length(1);

      clock = LIFETIME;
      await envelope.decrypt(sealed, CONTEXT);

      expect(kms.commandCalls(DecryptCommand)).to.have.length(2);
    });

    it('generates a new data key after maxMessagesPerKey messages', async () => {
      envelope = new TenantEnvelope(
        new KMSClient({ region: 'us-east-1' }),
        new DataKeyCache({ now: () => clock, maxMessagesPerKey: 3 }),
      );
      const sealed: Uint8Array[] = [];
      for (let i = 0; i < 7; i += 1) sealed.push(await envelope.encrypt(KEY_ID, message(`m${i}`), CONTEXT));

      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(3);
      expect(sealed.map(encryptedDataKeyOf)).to.deep.equal([
        ...Array<string>(3).fill(`blob-1-${KEY_ID}`),
        ...Array<string>(3).fill(`blob-2-${KEY_ID}`),
        `blob-3-${KEY_ID}`,
      ]);
      for (const [i, one] of sealed.entries()) {
        expect(Buffer.from(await envelope.decrypt(one, CONTEXT)).toString()).to.equal(`m${i}`);
      }
    });

    it('keeps a separate data key per context and per KMS key, whatever the order of the context keys', async () => {
      await envelope.encrypt(KEY_ID, message('a'), { tenantId: 'acme', table: 'orders' });
      await envelope.encrypt(KEY_ID, message('b'), { table: 'orders', tenantId: 'acme' });
      await envelope.encrypt(KEY_ID, message('c'), { tenantId: 'acme', table: 'invoices' });
      await envelope.encrypt('arn:aws:kms:us-east-1:111122223333:key/other', message('d'), CONTEXT);

      const calls = kms.commandCalls(GenerateDataKeyCommand).map((call) => call.args[0].input);
      expect(calls).to.deep.equal([
        { KeyId: KEY_ID, KeySpec: 'AES_256', EncryptionContext: { tenantId: 'acme', table: 'orders' } },
        { KeyId: KEY_ID, KeySpec: 'AES_256', EncryptionContext: { tenantId: 'acme', table: 'invoices' } },
        {
          KeyId: 'arn:aws:kms:us-east-1:111122223333:key/other',
          KeySpec: 'AES_256',
          EncryptionContext: CONTEXT,
        },
      ]);
    });

    it('asks KMS once for a burst of requests on a cold cache', async () => {
      const sealed = await Promise.all(
        Array.from({ length: 10 }, (_, i) => envelope.encrypt(KEY_ID, message(`m${i}`), CONTEXT)),
      );
      const opened = await Promise.all(sealed.map((one) => envelope.decrypt(one, CONTEXT)));

      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(1);
      expect(kms.commandCalls(DecryptCommand)).to.have.length(1);
      expect(opened.map((one) => Buffer.from(one).toString())).to.deep.equal(
        Array.from({ length: 10 }, (_, i) => `m${i}`),
      );
    });
  });

  describe('integrity and binding', () => {
    it('refuses to decrypt under another context even with the data key cached (GCM AAD)', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('acme data'), CONTEXT);
      await envelope.decrypt(sealed, CONTEXT);

      const others: Record<string, string>[] = [
        { tenantId: 'globex', table: 'orders' },
        { tenantId: 'acme', table: 'invoices' },
        { tenantId: 'acme' },
      ];
      for (const other of others) {
        const err = await rejectionOf(envelope.decrypt(sealed, other));
        expect(err.code).to.equal('ENVELOPE_INVALID');
      }
      // The cached key was found each time: only GCM authentication stood in the way.
      expect(kms.commandCalls(DecryptCommand)).to.have.length(1);
    });

    it('refuses to decrypt under another context when KMS must unwrap the data key', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('acme data'), CONTEXT);

      const err = await rejectionOf(envelope.decrypt(sealed, { tenantId: 'globex', table: 'orders' }));

      expect(err.code).to.equal('ENVELOPE_INVALID');
      expect((err.cause as Error).name).to.equal('InvalidCiphertextException');
      expect(kms.commandCalls(DecryptCommand)[0].args[0].input.EncryptionContext).to.deep.equal({
        tenantId: 'globex',
        table: 'orders',
      });
    });

    it('detects a flipped bit in every byte of the IV, tag and ciphertext', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('pay 100 to alice'), CONTEXT);
      await envelope.decrypt(sealed, CONTEXT);
      const { ivStart } = layout(sealed);

      for (let offset = ivStart; offset < sealed.length; offset += 1) {
        const tampered = Uint8Array.from(sealed);
        tampered[offset] ^= 0x01;
        const err = await rejectionOf(envelope.decrypt(tampered, CONTEXT));
        expect(err.code, `byte ${offset}`).to.equal('ENVELOPE_INVALID');
      }
    });

    it('refuses an envelope whose encrypted data key was altered', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('x'), CONTEXT);
      const tampered = Uint8Array.from(sealed);
      tampered[5] ^= 0x01;

      const err = await rejectionOf(envelope.decrypt(tampered, CONTEXT));

      expect(err.code).to.equal('ENVELOPE_INVALID');
    });

    it('refuses malformed and unknown-version envelopes without calling KMS', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('x'), CONTEXT);
      const { ciphertextStart } = layout(sealed);
      const unknownVersion = Uint8Array.from(sealed);
      unknownVersion[0] = 2;
      const noDataKey = Uint8Array.from([1, 0, 0, ...new Uint8Array(28)]);
      const overlongKeyLength = Uint8Array.from(sealed);
      overlongKeyLength[1] = 0xff;

      for (const bad of [
        new Uint8Array(0),
        Uint8Array.from([1, 0]),
        unknownVersion,
        noDataKey,
        overlongKeyLength,
        sealed.subarray(0, ciphertextStart - 1),
      ]) {
        const err = await rejectionOf(envelope.decrypt(bad, CONTEXT));
        expect(err.code).to.equal('ENVELOPE_INVALID');
      }
      expect(kms.commandCalls(DecryptCommand)).to.have.length(0);
    });

    it('refuses a context without a tenantId, before calling KMS', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('x'), CONTEXT);
      kms.resetHistory();

      const withoutTenant: Record<string, string>[] = [
        { table: 'orders' },
        { tenantId: '', table: 'orders' },
      ];
      for (const context of withoutTenant) {
        const onEncrypt = await rejectionOf(envelope.encrypt(KEY_ID, message('x'), context));
        const onDecrypt = await rejectionOf(envelope.decrypt(sealed, context));
        for (const err of [onEncrypt, onDecrypt]) {
          expect(err.code).to.equal('ENVELOPE_CONTEXT');
          expect(err.exitCode).to.equal(2);
        }
      }
      expect(kms.calls()).to.have.length(0);
    });
  });

  describe('the kill switch', () => {
    const disabled = awsError('DisabledException', 'arn:aws:kms:...:key/acme-key is disabled.');

    function expectKeyUnavailable(err: SaasctlError): void {
      expect(err.code).to.equal('TENANT_KEY_UNAVAILABLE');
      expect(err.exitCode).to.equal(4);
      expect(err.cause).to.equal(disabled);
      expect(err.actions.join(' ')).to.include('saasctl key status acme');
      expect(err.details).to.include({ tenantId: 'acme' });
    }

    it('keeps encrypting with the cached data key within the lifetime of a disabled key, then refuses', async () => {
      await envelope.encrypt(KEY_ID, message('before'), CONTEXT);
      kms.on(GenerateDataKeyCommand).rejects(disabled);

      clock = LIFETIME - 1;
      await envelope.encrypt(KEY_ID, message('within the bound'), CONTEXT);

      clock = LIFETIME;
      const err = await rejectionOf(envelope.encrypt(KEY_ID, message('after'), CONTEXT));
      expectKeyUnavailable(err);
      expect(err.details).to.include({ keyId: KEY_ID });
      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(2);
    });

    it('keeps decrypting with the cached data key within the lifetime of a disabled key, then refuses', async () => {
      const sealed = await envelope.encrypt(KEY_ID, message('secret'), CONTEXT);
      await envelope.decrypt(sealed, CONTEXT);
      kms.on(DecryptCommand).rejects(disabled);

      clock = LIFETIME - 1;
      expect(Buffer.from(await envelope.decrypt(sealed, CONTEXT)).toString()).to.equal('secret');

      clock = LIFETIME;
      expectKeyUnavailable(await rejectionOf(envelope.decrypt(sealed, CONTEXT)));
      expect(kms.commandCalls(DecryptCommand)).to.have.length(2);
    });

    it('treats a key pending deletion (KMSInvalidStateException) as unavailable too', async () => {
      const pending = awsError('KMSInvalidStateException', 'key is pending deletion');
      kms.on(GenerateDataKeyCommand).rejects(pending);

      const err = await rejectionOf(envelope.encrypt(KEY_ID, message('x'), CONTEXT));

      expect(err.code).to.equal('TENANT_KEY_UNAVAILABLE');
      expect(err.exitCode).to.equal(4);
      expect(err.cause).to.equal(pending);
    });

    it('gives every request of a cold-cache burst the same answer from one KMS call', async () => {
      kms.on(GenerateDataKeyCommand).rejects(disabled);

      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, () => envelope.encrypt(KEY_ID, message('x'), CONTEXT)),
      );

      expect(kms.commandCalls(GenerateDataKeyCommand)).to.have.length(1);
      for (const outcome of outcomes) {
        expect(outcome.status).to.equal('rejected');
        if (outcome.status === 'rejected') expectKeyUnavailable(outcome.reason as SaasctlError);
      }
    });

    it('lets other AWS errors through as the SDK threw them', async () => {
      const throttled = awsError('ThrottlingException');
      kms.on(GenerateDataKeyCommand).rejects(throttled);

      let caught: unknown;
      try {
        await envelope.encrypt(KEY_ID, message('x'), CONTEXT);
      } catch (err) {
        caught = err;
      }

      expect(caught).to.equal(throttled);
    });
  });
});
