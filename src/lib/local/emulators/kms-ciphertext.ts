import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/*
 * The emulator's ciphertext blob:
 *   version (1 byte) | key id (the UUID's 16 bytes) | IV (12) | GCM auth tag (16) | data
 * The key id travels in the clear so Decrypt can find the key without being told, as in AWS.
 * The header and the canonical encryption context are the GCM AAD, so neither can be altered.
 */

export type EncryptionContext = Readonly<Record<string, string>>;

const VERSION = 1;
const HEADER_BYTES = 1 + 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DATA_OFFSET = HEADER_BYTES + IV_BYTES + TAG_BYTES;

export function seal(
  keyId: string,
  material: Buffer,
  plaintext: Buffer,
  context: EncryptionContext | undefined,
): Buffer {
  const header = Buffer.concat([Buffer.of(VERSION), Buffer.from(keyId.replaceAll('-', ''), 'hex')]);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(additionalData(header, context));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), data]);
}

/** The id of the key that sealed `blob`, or undefined when it is not one of our blobs. */
export function keyIdOf(blob: Buffer): string | undefined {
  if (blob.length < DATA_OFFSET || blob[0] !== VERSION) return undefined;
  const hex = blob.subarray(1, HEADER_BYTES).toString('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

/** The plaintext, or undefined when the blob, the key or the context does not authenticate. */
export function open(
  material: Buffer,
  blob: Buffer,
  context: EncryptionContext | undefined,
): Buffer | undefined {
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      material,
      blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES),
    );
    decipher.setAAD(additionalData(blob.subarray(0, HEADER_BYTES), context));
    decipher.setAuthTag(blob.subarray(HEADER_BYTES + IV_BYTES, DATA_OFFSET));
    return Buffer.concat([decipher.update(blob.subarray(DATA_OFFSET)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** Sorted by key, so `{a, b}` and `{b, a}` authenticate alike, as do an absent and an empty context. */
function additionalData(header: Buffer, context: EncryptionContext | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.concat([header, Buffer.from(JSON.stringify(entries), 'utf8')]);
}
