import { performance } from 'node:perf_hooks';

import { usageError } from '../cli/errors.js';

/**
 * Plaintext data keys held in memory so that not every encrypt or decrypt costs a KMS call.
 *
 * The cache is also what bounds the per-tenant kill switch: a key is usable for at most
 * `lifetimeMs` after KMS issued it, however often it is used (a hit moves an entry up the LRU
 * order but never extends its life), so once an operator disables a tenant's KMS key, its data
 * becomes unreadable within one lifetime. Encryption keys are also limited to
 * `maxMessagesPerKey` messages, as the AWS Encryption SDK's caching CMM limits reuse: it bounds
 * how much data one leaked data key exposes and keeps random 96-bit GCM IVs far from collisions.
 *
 * Ownership: `put*` takes ownership of the plaintext Buffer it is given and zero-fills it when
 * the entry expires, is used up, evicted, replaced or cleared; `take*` and `get*` return copies,
 * which the caller zero-fills after use. So an eviction never changes a key under a caller.
 */
export interface DataKeyCacheOptions {
  /** Entries of both kinds together; beyond it the least recently used is evicted. Default 1,000. */
  readonly maxEntries?: number;
  /** How long a data key may be used after KMS issued it, in ms. Default 300,000 (5 minutes). */
  readonly lifetimeMs?: number;
  /** How many messages one generated data key may encrypt. Default 10,000. */
  readonly maxMessagesPerKey?: number;
  /** A monotonic clock in ms; tests inject their own. Default `performance.now()`. */
  readonly now?: () => number;
}

export const DEFAULT_MAX_ENTRIES = 1_000;
export const DEFAULT_LIFETIME_MS = 300_000;
export const DEFAULT_MAX_MESSAGES_PER_KEY = 10_000;

/** A data key for encryption: the plaintext key and the KMS-encrypted copy stored with the data. */
export interface EncryptionDataKey {
  readonly plaintext: Buffer;
  readonly encryptedDataKey: Uint8Array;
}

interface EncryptionEntry {
  readonly kind: 'encrypt';
  readonly plaintext: Buffer;
  readonly encryptedDataKey: Uint8Array;
  readonly issuedAt: number;
  messages: number;
}

interface DecryptionEntry {
  readonly kind: 'decrypt';
  readonly plaintext: Buffer;
  readonly issuedAt: number;
}

type Entry = EncryptionEntry | DecryptionEntry;

export class DataKeyCache {
  readonly maxEntries: number;
  readonly lifetimeMs: number;
  readonly maxMessagesPerKey: number;
  private readonly now: () => number;
  /** Map iteration order is insertion order: a hit re-inserts, so the first entry is the LRU. */
  private readonly entries = new Map<string, Entry>();

  constructor(options: DataKeyCacheOptions = {}) {
    this.maxEntries = positiveInteger('maxEntries', options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.lifetimeMs = positiveInteger('lifetimeMs', options.lifetimeMs ?? DEFAULT_LIFETIME_MS);
    this.maxMessagesPerKey = positiveInteger(
      'maxMessagesPerKey',
      options.maxMessagesPerKey ?? DEFAULT_MAX_MESSAGES_PER_KEY,
    );
    this.now = options.now ?? (() => performance.now());
  }

  /** Live entries of both kinds (expired ones are purged first). */
  get size(): number {
    this.purgeExpired();
    return this.entries.size;
  }

  /**
   * The cached data key for (keyId, canonical encryption context), counted as used for one more
   * message; undefined when there is none that is unexpired and not used up. Returns a copy.
   */
  takeEncryptionKey(keyId: string, canonicalContext: string): EncryptionDataKey | undefined {
    const slot = encryptionSlot(keyId, canonicalContext);
    const entry = this.live(slot);
    if (entry?.kind !== 'encrypt') return undefined;
    entry.messages += 1;
    const copy = {
      plaintext: Buffer.from(entry.plaintext),
      encryptedDataKey: new Uint8Array(entry.encryptedDataKey),
    };
    if (entry.messages >= this.maxMessagesPerKey) this.remove(slot);
    return copy;
  }

  /**
   * Caches a data key KMS just generated for (keyId, canonical encryption context). The message
   * it was generated for counts as its first use. Takes ownership of `key.plaintext`.
   */
  putEncryptionKey(keyId: string, canonicalContext: string, key: EncryptionDataKey): void {
    const entry: EncryptionEntry = {
      kind: 'encrypt',
      plaintext: key.plaintext,
      encryptedDataKey: new Uint8Array(key.encryptedDataKey),
      issuedAt: this.now(),
      messages: 1,
    };
    if (entry.messages >= this.maxMessagesPerKey) {
      key.plaintext.fill(0);
      return;
    }
    this.insert(encryptionSlot(keyId, canonicalContext), entry);
  }

  /** The plaintext of an encrypted data key KMS decrypted within the lifetime, or undefined. Returns a copy. */
  getDecryptionKey(encryptedDataKey: Uint8Array): Buffer | undefined {
    const entry = this.live(decryptionSlot(encryptedDataKey));
    return entry?.kind === 'decrypt' ? Buffer.from(entry.plaintext) : undefined;
  }

  /** Caches the plaintext KMS returned for an encrypted data key. Takes ownership of `plaintext`. */
  putDecryptionKey(encryptedDataKey: Uint8Array, plaintext: Buffer): void {
    this.insert(decryptionSlot(encryptedDataKey), { kind: 'decrypt', plaintext, issuedAt: this.now() });
  }

  /** Zero-fills and drops every expired entry. Runs on every put; a host may also call it on a timer. */
  purgeExpired(): void {
    for (const [slot, entry] of this.entries) {
      if (this.expired(entry)) this.remove(slot);
    }
  }

  /** Zero-fills and drops every entry. */
  clear(): void {
    for (const slot of [...this.entries.keys()]) this.remove(slot);
  }

  private live(slot: string): Entry | undefined {
    const entry = this.entries.get(slot);
    if (entry === undefined) return undefined;
    if (this.expired(entry)) {
      this.remove(slot);
      return undefined;
    }
    this.entries.delete(slot);
    this.entries.set(slot, entry);
    return entry;
  }

  private insert(slot: string, entry: Entry): void {
    this.remove(slot);
    this.purgeExpired();
    this.entries.set(slot, entry);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.remove(oldest);
    }
  }

  /** Age is measured from issue, not last use; a clock that went backwards also counts as expired. */
  private expired(entry: Entry): boolean {
    const age = this.now() - entry.issuedAt;
    return age >= this.lifetimeMs || age < 0;
  }

  private remove(slot: string): void {
    const entry = this.entries.get(slot);
    if (entry === undefined) return;
    entry.plaintext.fill(0);
    this.entries.delete(slot);
  }
}

function encryptionSlot(keyId: string, canonicalContext: string): string {
  return `encrypt:${JSON.stringify([keyId, canonicalContext])}`;
}

function decryptionSlot(encryptedDataKey: Uint8Array): string {
  const bytes = Buffer.from(
    encryptedDataKey.buffer,
    encryptedDataKey.byteOffset,
    encryptedDataKey.byteLength,
  );
  return `decrypt:${bytes.toString('base64')}`;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw usageError(
      'INVALID_CACHE_OPTION',
      `DataKeyCache ${name} must be a positive integer, got ${value}.`,
    );
  }
  return value;
}
