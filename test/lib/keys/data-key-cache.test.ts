import { randomBytes } from 'node:crypto';

import { expect } from 'chai';

import {
  DataKeyCache,
  DEFAULT_LIFETIME_MS,
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_MESSAGES_PER_KEY,
} from '../../../src/lib/keys/data-key-cache.js';
import { thrownBy } from '../helpers/aws.js';

const CONTEXT = '{"tenantId":"acme"}';

function isZeroed(buffer: Buffer): boolean {
  return buffer.every((byte) => byte === 0);
}

/** A random 32-byte key and a second copy to compare against (the cache zero-fills the first). */
function dataKey(): { owned: Buffer; expected: Buffer } {
  const owned = randomBytes(32);
  return { owned, expected: Buffer.from(owned) };
}

function edk(label: string): Uint8Array {
  return new Uint8Array(Buffer.from(`edk-${label}`));
}

describe('DataKeyCache', () => {
  let clock: number;
  const now = (): number => clock;

  beforeEach(() => {
    clock = 1_000;
  });

  it('defaults to 1,000 entries, a 5-minute lifetime and 10,000 messages per key', () => {
    const cache = new DataKeyCache();
    expect(cache.maxEntries).to.equal(DEFAULT_MAX_ENTRIES).and.equal(1_000);
    expect(cache.lifetimeMs).to.equal(DEFAULT_LIFETIME_MS).and.equal(300_000);
    expect(cache.maxMessagesPerKey).to.equal(DEFAULT_MAX_MESSAGES_PER_KEY).and.equal(10_000);
  });

  it('refuses limits that are not positive integers', () => {
    for (const options of [
      { maxEntries: 0 },
      { lifetimeMs: -1 },
      { maxMessagesPerKey: 1.5 },
      { lifetimeMs: NaN },
    ]) {
      const err = thrownBy(() => new DataKeyCache(options));
      expect(err.code).to.equal('INVALID_CACHE_OPTION');
      expect(err.exitCode).to.equal(2);
    }
  });

  describe('encryption keys', () => {
    it('returns the key for its (keyId, context) only', () => {
      const cache = new DataKeyCache({ now });
      const { owned, expected } = dataKey();
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: owned, encryptedDataKey: edk('1') });

      const taken = cache.takeEncryptionKey('key-a', CONTEXT);
      expect(taken?.plaintext.equals(expected)).to.equal(true);
      expect(Buffer.from(taken?.encryptedDataKey ?? []).toString()).to.equal('edk-1');
      expect(cache.takeEncryptionKey('key-b', CONTEXT)).to.equal(undefined);
      expect(cache.takeEncryptionKey('key-a', '{"tenantId":"globex"}')).to.equal(undefined);
    });

    it('hands out copies, so a caller zero-filling its copy does not change the cached key', () => {
      const cache = new DataKeyCache({ now });
      const { owned, expected } = dataKey();
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: owned, encryptedDataKey: edk('1') });

      cache.takeEncryptionKey('key-a', CONTEXT)?.plaintext.fill(0);
      expect(cache.takeEncryptionKey('key-a', CONTEXT)?.plaintext.equals(expected)).to.equal(true);
    });

    it('serves a key for maxMessagesPerKey messages in all, the generating one included, then zero-fills it', () => {
      const cache = new DataKeyCache({ now, maxMessagesPerKey: 3 });
      const { owned } = dataKey();
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: owned, encryptedDataKey: edk('1') });

      expect(cache.takeEncryptionKey('key-a', CONTEXT)).to.not.equal(undefined); // message 2
      expect(cache.takeEncryptionKey('key-a', CONTEXT)).to.not.equal(undefined); // message 3
      expect(cache.takeEncryptionKey('key-a', CONTEXT)).to.equal(undefined);
      expect(isZeroed(owned)).to.equal(true);
      expect(cache.size).to.equal(0);
    });

    it('does not keep a key that may encrypt only one message', () => {
      const cache = new DataKeyCache({ now, maxMessagesPerKey: 1 });
      const { owned } = dataKey();
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: owned, encryptedDataKey: edk('1') });

      expect(cache.takeEncryptionKey('key-a', CONTEXT)).to.equal(undefined);
      expect(isZeroed(owned)).to.equal(true);
    });

    it('never returns a key at or after its lifetime, and zero-fills it', () => {
      const cache = new DataKeyCache({ now, lifetimeMs: 300_000 });
      const { owned } = dataKey();
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: owned, encryptedDataKey: edk('1') });

      clock += 299_999;
      expect(cache.takeEncryptionKey('key-a', CONTEXT)).to.not.equal(undefined);
      clock += 1;
      expect(cache.takeEncryptionKey('key-a', CONTEXT)).to.equal(undefined);
      expect(isZeroed(owned)).to.equal(true);
    });

    it('zero-fills the key it replaces', () => {
      const cache = new DataKeyCache({ now });
      const first = dataKey();
      const second = dataKey();
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: first.owned, encryptedDataKey: edk('1') });
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: second.owned, encryptedDataKey: edk('2') });

      expect(isZeroed(first.owned)).to.equal(true);
      expect(cache.takeEncryptionKey('key-a', CONTEXT)?.plaintext.equals(second.expected)).to.equal(true);
      expect(cache.size).to.equal(1);
    });
  });

  describe('decryption keys', () => {
    it('finds a key by the bytes of its encrypted data key, whatever array holds them', () => {
      const cache = new DataKeyCache({ now });
      const { owned, expected } = dataKey();
      cache.putDecryptionKey(edk('1'), owned);

      const sameBytes = Buffer.concat([Buffer.from('xx'), Buffer.from('edk-1')]).subarray(2);
      expect(cache.getDecryptionKey(sameBytes)?.equals(expected)).to.equal(true);
      expect(cache.getDecryptionKey(edk('2'))).to.equal(undefined);
    });

    it('keeps decryption and encryption entries apart', () => {
      const cache = new DataKeyCache({ now });
      cache.putDecryptionKey(edk('1'), dataKey().owned);
      expect(cache.takeEncryptionKey('edk-1', CONTEXT)).to.equal(undefined);
    });

    it('does not extend a lifetime on use: a key read constantly still expires on time', () => {
      const cache = new DataKeyCache({ now, lifetimeMs: 300_000 });
      const { owned } = dataKey();
      cache.putDecryptionKey(edk('1'), owned);

      for (let step = 0; step < 299; step += 1) {
        clock += 1_000;
        expect(cache.getDecryptionKey(edk('1'))).to.not.equal(undefined);
      }
      clock += 1_000;
      expect(cache.getDecryptionKey(edk('1'))).to.equal(undefined);
      expect(isZeroed(owned)).to.equal(true);
    });

    it('treats a clock that went backwards as expiry, so it cannot stretch the lifetime', () => {
      const cache = new DataKeyCache({ now });
      const { owned } = dataKey();
      cache.putDecryptionKey(edk('1'), owned);

      clock -= 1;
      expect(cache.getDecryptionKey(edk('1'))).to.equal(undefined);
      expect(isZeroed(owned)).to.equal(true);
    });
  });

  describe('eviction', () => {
    it('evicts the least recently used entry beyond maxEntries and zero-fills its plaintext', () => {
      const cache = new DataKeyCache({ now, maxEntries: 2 });
      const a = dataKey();
      const b = dataKey();
      const c = dataKey();
      cache.putDecryptionKey(edk('a'), a.owned);
      cache.putEncryptionKey('key-b', CONTEXT, { plaintext: b.owned, encryptedDataKey: edk('b') });
      expect(cache.getDecryptionKey(edk('a'))).to.not.equal(undefined); // a is now the most recent

      cache.putDecryptionKey(edk('c'), c.owned);

      expect(cache.size).to.equal(2);
      expect(isZeroed(b.owned)).to.equal(true);
      expect(cache.takeEncryptionKey('key-b', CONTEXT)).to.equal(undefined);
      expect(a.owned.equals(a.expected)).to.equal(true);
      expect(c.owned.equals(c.expected)).to.equal(true);
      expect(cache.getDecryptionKey(edk('a'))?.equals(a.expected)).to.equal(true);
      expect(cache.getDecryptionKey(edk('c'))?.equals(c.expected)).to.equal(true);
    });

    it('purges expired entries before evicting live ones', () => {
      const cache = new DataKeyCache({ now, maxEntries: 2, lifetimeMs: 1_000 });
      const old = dataKey();
      const live = dataKey();
      cache.putDecryptionKey(edk('old'), old.owned);
      clock += 500;
      cache.putDecryptionKey(edk('live'), live.owned);
      clock += 400;
      expect(cache.getDecryptionKey(edk('old'))).to.not.equal(undefined); // old is now the most recent
      clock += 100; // ... and expired, while live has 500 ms left

      cache.putDecryptionKey(edk('new'), dataKey().owned);

      expect(isZeroed(old.owned)).to.equal(true);
      expect(cache.getDecryptionKey(edk('live'))?.equals(live.expected)).to.equal(true);
      expect(cache.size).to.equal(2);
    });

    it('counts only live entries in size', () => {
      const cache = new DataKeyCache({ now, lifetimeMs: 1_000 });
      const { owned } = dataKey();
      cache.putDecryptionKey(edk('1'), owned);
      expect(cache.size).to.equal(1);

      clock += 1_000;
      expect(cache.size).to.equal(0);
      expect(isZeroed(owned)).to.equal(true);
    });

    it('zero-fills every plaintext on clear()', () => {
      const cache = new DataKeyCache({ now });
      const keys = [dataKey(), dataKey(), dataKey()];
      cache.putDecryptionKey(edk('1'), keys[0].owned);
      cache.putDecryptionKey(edk('2'), keys[1].owned);
      cache.putEncryptionKey('key-a', CONTEXT, { plaintext: keys[2].owned, encryptedDataKey: edk('3') });

      cache.clear();

      expect(cache.size).to.equal(0);
      expect(keys.every((key) => isZeroed(key.owned))).to.equal(true);
      expect(cache.getDecryptionKey(edk('1'))).to.equal(undefined);
    });
  });
});
