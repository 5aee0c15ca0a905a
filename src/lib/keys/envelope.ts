import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import type { KMSClient } from '@aws-sdk/client-kms';

import { ExitCode, SaasctlError, isAwsError, usageError } from '../cli/errors.js';
import { sdk } from '../platform/sdk.js';
import type { DataKeyCache, EncryptionDataKey } from './data-key-cache.js';

/**
 * Envelope encryption for silo tenants, whose data is encrypted under the tenant's own KMS key.
 * KMS issues a data key (AES-256) wrapped under that key; the data is encrypted locally with
 * AES-256-GCM and the wrapped key is stored beside it.
 *
 * Envelope format, version 1 (integers big-endian):
 *
 *   offset  length  field
 *   0       1       format version: 0x01
 *   1       2       n: length of the encrypted data key
 *   3       n       encrypted data key: the CiphertextBlob of KMS GenerateDataKey
 *   3+n     12      IV, random per message
 *   15+n    16      AES-GCM authentication tag
 *   31+n    rest    ciphertext, as long as the plaintext
 *
 * GCM's additional authenticated data is the version byte followed by the UTF-8 canonical
 * encryption context. The context itself is not stored: the caller states it again on decrypt
 * (from where the data lives: tenant, table, item), so ciphertext moved to another tenant or
 * decrypted under another context fails authentication. KMS binds the same context to the
 * encrypted data key, so it cannot be unwrapped under another context either. The encrypted
 * data key is not authenticated by GCM, which leaves room to re-wrap it (KMS ReEncrypt) without
 * touching the data; a substituted data key fails authentication anyway.
 *
 * The kill-switch bound: once an operator disables a tenant's key (or schedules its deletion),
 * KMS refuses GenerateDataKey and Decrypt, so no new data keys are issued or unwrapped, and the
 * ones already in the DataKeyCache expire at most its lifetime after KMS issued them. Disabling
 * therefore takes effect within that lifetime (default 5 minutes, as DynamoDB itself caches a
 * table's KMS key for up to 5 minutes); callers then get TENANT_KEY_UNAVAILABLE (exit 4).
 */
export const ENVELOPE_VERSION = 1;

/** The encryption context of a tenant's data; it must name the tenant in `tenantId`. */
export type EncryptionContext = Readonly<Record<string, string>>;

const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 3;
const MAX_ENCRYPTED_DATA_KEY_BYTES = 0xffff;

/** The context as AAD and cache key: keys sorted by code unit, JSON-encoded as an object. */
export function canonicalContext(context: EncryptionContext): string {
  const tenantId = context.tenantId;
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    throw usageError(
      'ENVELOPE_CONTEXT',
      'The encryption context must contain a non-empty tenantId: it binds the ciphertext to its tenant.',
    );
  }
  const entries = Object.entries(context);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') {
      throw usageError('ENVELOPE_CONTEXT', `Encryption context value "${key}" must be a string.`);
    }
  }
  // Built by hand: JSON.stringify of an object would put integer-like keys ("2", "10") first.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}

interface ParsedEnvelope {
  readonly encryptedDataKey: Uint8Array;
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export class TenantEnvelope {
  /**
   * KMS calls under way, so a burst of cold-cache requests for one key (a batch read, or the
   * moment an entry expires) costs one KMS call rather than one per request. Waiters share the
   * outcome, including a failure: they would have sent the same request.
   */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly kms: KMSClient,
    private readonly cache: DataKeyCache,
  ) {}

  async encrypt(keyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const canonical = canonicalContext(context);
    const dataKey = await this.encryptionKey(keyId, canonical, context);
    try {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', dataKey.plaintext, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(canonical));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const header = Buffer.alloc(HEADER_BYTES);
      header.writeUInt8(ENVELOPE_VERSION, 0);
      header.writeUInt16BE(dataKey.encryptedDataKey.length, 1);
      return Buffer.concat([header, dataKey.encryptedDataKey, iv, cipher.getAuthTag(), ciphertext]);
    } finally {
      dataKey.plaintext.fill(0);
    }
  }

  async decrypt(envelope: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const canonical = canonicalContext(context);
    const parsed = parseEnvelope(envelope);
    const dataKey = await this.decryptionKey(parsed.encryptedDataKey, canonical, context);
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey, parsed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(canonical));
      decipher.setAuthTag(parsed.tag);
      return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
    } catch (err) {
      throw invalidEnvelope('it fails authentication: it was altered, or the context differs', err);
    } finally {
      dataKey.fill(0);
    }
  }

  /** A copy of a data key for one message, from the cache or freshly generated by KMS. */
  private async encryptionKey(
    keyId: string,
    canonical: string,
    context: EncryptionContext,
  ): Promise<EncryptionDataKey> {
    const slot = `encrypt:${JSON.stringify([keyId, canonical])}`;
    for (;;) {
      const cached = this.cache.takeEncryptionKey(keyId, canonical);
      if (cached) return cached;
      const pending = this.inFlight.get(slot);
      if (pending === undefined) break;
      await pending;
    }
    return this.singleFlight(slot, async () => {
      const generated = await this.generateDataKey(keyId, context);
      this.cache.putEncryptionKey(keyId, canonical, {
        plaintext: Buffer.from(generated.plaintext),
        encryptedDataKey: generated.encryptedDataKey,
      });
      return generated;
    });
  }

  /** A copy of the plaintext of an encrypted data key, from the cache or unwrapped by KMS. */
  private async decryptionKey(
    encryptedDataKey: Uint8Array,
    canonical: string,
    context: EncryptionContext,
  ): Promise<Buffer> {
    // Keyed by context too: a caller with the wrong context must not share a correct caller's failure.
    const slot = `decrypt:${JSON.stringify([canonical, Buffer.from(encryptedDataKey).toString('base64')])}`;
    for (;;) {
      const cached = this.cache.getDecryptionKey(encryptedDataKey);
      if (cached) return cached;
      const pending = this.inFlight.get(slot);
      if (pending === undefined) break;
      await pending;
    }
    return this.singleFlight(slot, async () => {
      const plaintext = await this.unwrapDataKey(encryptedDataKey, context);
      this.cache.putDecryptionKey(encryptedDataKey, Buffer.from(plaintext));
      return plaintext;
    });
  }

  private async singleFlight<T>(slot: string, load: () => Promise<T>): Promise<T> {
    // Removed before the promise settles, so a waiter that finds the cache empty afterwards
    // (key used up, or evicted) starts its own call instead of awaiting a finished one.
    const flight = load().finally(() => this.inFlight.delete(slot));
    this.inFlight.set(slot, flight);
    return flight;
  }

  private async generateDataKey(keyId: string, context: EncryptionContext): Promise<EncryptionDataKey> {
    const { GenerateDataKeyCommand } = sdk.kms();
    const response = await callKms(
      () =>
        this.kms.send(
          new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
        ),
      context,
      keyId,
    );
    const { Plaintext, CiphertextBlob } = response;
    if (
      Plaintext?.length !== DATA_KEY_BYTES ||
      CiphertextBlob === undefined ||
      CiphertextBlob.length === 0 ||
      CiphertextBlob.length > MAX_ENCRYPTED_DATA_KEY_BYTES
    ) {
      Plaintext?.fill(0);
      throw new SaasctlError(
        'KMS_UNEXPECTED_RESPONSE',
        `KMS GenerateDataKey for ${keyId} returned no usable data key.`,
      );
    }
    const plaintext = Buffer.from(Plaintext);
    Plaintext.fill(0);
    return { plaintext, encryptedDataKey: new Uint8Array(CiphertextBlob) };
  }

  private async unwrapDataKey(encryptedDataKey: Uint8Array, context: EncryptionContext): Promise<Buffer> {
    const { DecryptCommand } = sdk.kms();
    const response = await callKms(
      () =>
        this.kms.send(
          new DecryptCommand({ CiphertextBlob: encryptedDataKey, EncryptionContext: { ...context } }),
        ),
      context,
    );
    const { Plaintext } = response;
    if (Plaintext?.length !== DATA_KEY_BYTES) {
      Plaintext?.fill(0);
      throw new SaasctlError('KMS_UNEXPECTED_RESPONSE', 'KMS Decrypt returned no usable data key.');
    }
    const plaintext = Buffer.from(Plaintext);
    Plaintext.fill(0);
    return plaintext;
  }
}

function additionalData(canonical: string): Buffer {
  return Buffer.concat([Buffer.of(ENVELOPE_VERSION), Buffer.from(canonical, 'utf8')]);
}

function parseEnvelope(envelope: Uint8Array): ParsedEnvelope {
  if (envelope.length < HEADER_BYTES) throw invalidEnvelope('it is too short to hold a header');
  const bytes = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  const version = bytes.readUInt8(0);
  if (version !== ENVELOPE_VERSION) throw invalidEnvelope(`its format version ${version} is unknown`);
  const keyLength = bytes.readUInt16BE(1);
  const ivStart = HEADER_BYTES + keyLength;
  const tagStart = ivStart + IV_BYTES;
  const ciphertextStart = tagStart + TAG_BYTES;
  if (keyLength === 0 || bytes.length < ciphertextStart) {
    throw invalidEnvelope('it is truncated or its data key length is wrong');
  }
  // Copies, so nothing below holds on to (or is changed through) the caller's buffer.
  return {
    encryptedDataKey: new Uint8Array(bytes.subarray(HEADER_BYTES, ivStart)),
    iv: new Uint8Array(bytes.subarray(ivStart, tagStart)),
    tag: new Uint8Array(bytes.subarray(tagStart, ciphertextStart)),
    ciphertext: new Uint8Array(bytes.subarray(ciphertextStart)),
  };
}

function invalidEnvelope(reason: string, cause?: unknown): SaasctlError {
  return new SaasctlError('ENVELOPE_INVALID', `The encrypted data cannot be decrypted: ${reason}.`, {
    cause,
  });
}

async function callKms<T>(request: () => Promise<T>, context: EncryptionContext, keyId?: string): Promise<T> {
  try {
    return await request();
  } catch (err) {
    throw kmsFailure(err, context, keyId);
  }
}

/**
 * A disabled or pending-deletion key is the kill switch at work: a conflict with the key's state
 * (exit 4), not a crash. KMS's InvalidCiphertextException (the data key or its context does not
 * match) is the cold-cache form of the GCM failure, so it gets the same code. Anything else
 * (throttling, access denied, network) propagates as the SDK threw it.
 */
function kmsFailure(err: unknown, context: EncryptionContext, keyId?: string): unknown {
  const tenantId = context.tenantId;
  if (isAwsError(err, 'DisabledException', 'KMSInvalidStateException')) {
    return new SaasctlError(
      'TENANT_KEY_UNAVAILABLE',
      `The KMS key of tenant ${tenantId} is disabled or pending deletion: its data cannot be encrypted or decrypted.`,
      {
        exitCode: ExitCode.conflict,
        cause: err,
        actions: [
          `Run \`saasctl key status ${tenantId}\` to see the key's state; the data stays unreadable until the key is enabled again.`,
        ],
        details: { tenantId, ...(keyId === undefined ? {} : { keyId }) },
      },
    );
  }
  if (keyId === undefined && isAwsError(err, 'InvalidCiphertextException')) {
    return invalidEnvelope('KMS refused its data key for this context', err);
  }
  return err;
}
