import { createHash } from 'node:crypto';

import { expect } from 'chai';

import {
  canonicalNumber,
  digestOf,
  encodeItem,
  encodeValue,
  itemHash,
  itemKey,
  itemSize,
  keyFromId,
  keyId,
  SetDigest,
  type Item,
} from '../../../src/lib/tenants/migration-digest.js';

const order: Item = {
  PK: { S: 'TENANT#acme' },
  SK: { S: 'ORDER#0001' },
  total: { N: '12.50' },
  lines: { L: [{ S: 'a' }, { N: '2' }] },
  tags: { SS: ['red', 'blue'] },
  meta: { M: { paid: { BOOL: true }, note: { NULL: true }, raw: { B: Buffer.from('hi') } } },
};

describe('migration digest', () => {
  describe('canonicalNumber', () => {
    it('spells a number one way whatever the writer wrote', () => {
      for (const same of ['100', '1e2', '100.000', '0100', '1E+2', '10e1']) {
        expect(canonicalNumber(same), same).to.equal('1e2');
      }
      expect(canonicalNumber('-1.25')).to.equal('-125e-2');
      expect(canonicalNumber('-0012.2500')).to.equal('-1225e-2');
      expect(canonicalNumber('0.000')).to.equal('0');
      expect(canonicalNumber('-0')).to.equal('0');
      expect(canonicalNumber('12.5')).to.not.equal(canonicalNumber('125'));
    });

    it('refuses what is not a number', () => {
      for (const bad of ['', '.', 'abc', '1.2.3', '--1']) {
        expect(() => canonicalNumber(bad), bad).to.throw(/Not a DynamoDB number/);
      }
    });
  });

  describe('itemHash', () => {
    it('is SHA-256 of the canonical encoding, independent of attribute, map and set order', () => {
      const shuffled: Item = {
        meta: { M: { raw: { B: Buffer.from('hi') }, note: { NULL: true }, paid: { BOOL: true } } },
        tags: { SS: ['blue', 'red'] },
        total: { N: '12.5' },
        lines: { L: [{ S: 'a' }, { N: '2.0' }] },
        SK: { S: 'ORDER#0001' },
        PK: { S: 'TENANT#acme' },
      };
      expect(itemHash(shuffled).equals(itemHash(order))).to.equal(true);
      expect(itemHash(order).equals(createHash('sha256').update(encodeItem(order)).digest())).to.equal(true);
    });

    it('tells apart what differs in value, type or list order', () => {
      const variants: Item[] = [
        { ...order, total: { N: '12.51' } },
        { ...order, total: { S: '12.5' } },
        { ...order, lines: { L: [{ N: '2' }, { S: 'a' }] } },
        { ...order, tags: { SS: ['red'] } },
        {
          ...order,
          meta: { M: { paid: { BOOL: false }, note: { NULL: true }, raw: { B: Buffer.from('hi') } } },
        },
        {
          ...order,
          meta: { M: { paid: { BOOL: true }, note: { NULL: true }, raw: { B: Buffer.from('ho') } } },
        },
        { ...order, extra: { S: '' } },
      ];
      const hashes = new Set([order, ...variants].map((item) => itemHash(item).toString('hex')));
      expect(hashes.size).to.equal(variants.length + 1);
    });

    it('encodes plain integers (its fast path) exactly as any other spelling of the same number', () => {
      for (const [fast, other] of [
        ['1200', '1.2e3'],
        ['-7', '-7.0'],
        ['10', '1E1'],
        ['0', '0.0'],
      ]) {
        expect(encodeValue({ N: fast }), fast).to.equal(encodeValue({ N: other }));
      }
      expect(encodeValue({ NS: ['10', '2'] })).to.equal(encodeValue({ NS: ['2.0', '1e1'] }));
    });

    it('keeps set elements and names apart whatever characters they hold', () => {
      expect(encodeValue({ SS: ['a,b'] })).to.not.equal(encodeValue({ SS: ['a', 'b'] }));
      expect(encodeItem({ 'a:1': { S: 'x' } })).to.not.equal(encodeItem({ a: { S: '1:x' } }));
    });

    it('does not confuse a string that looks like an encoding with the structure it spells', () => {
      const a: Item = { PK: { S: 'x' }, SK: { S: 'y' }, v: { S: 'a",S"b' } };
      const b: Item = { PK: { S: 'x' }, SK: { S: 'y' }, v: { L: [{ S: 'a' }, { S: 'b' }] } };
      expect(itemHash(a).equals(itemHash(b))).to.equal(false);
    });
  });

  describe('SetDigest', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({
      PK: { S: `TENANT#acme#${i % 3}` },
      SK: { S: `ITEM#${i}` },
      n: { N: String(i) },
    }));

    it('gives the same digest for the same items in any order', () => {
      const forward = digestOf(items);
      const backward = digestOf([...items].reverse());
      expect(backward).to.deep.equal(forward);
      expect(forward.count).to.equal(50);
      expect(forward.digest).to.match(/^[0-9a-f]{64}$/);
    });

    it('changes when one item changes, is missing or is added', () => {
      const base = digestOf(items).digest;
      expect(digestOf([{ ...items[0], n: { N: '999' } }, ...items.slice(1)]).digest).to.not.equal(base);
      expect(digestOf(items.slice(1)).digest).to.not.equal(base);
      expect(digestOf([...items, { PK: { S: 'TENANT#acme' }, SK: { S: 'NEW' } }]).digest).to.not.equal(base);
    });

    it('sums rather than XORs, so the same item twice does not cancel out', () => {
      const twice = new SetDigest();
      twice.add(itemHash(items[0]));
      twice.add(itemHash(items[0]));
      expect(twice.hex()).to.not.equal(new SetDigest().hex());
    });

    it('is updated in place: removing an item and adding its new version equals digesting the new set', () => {
      const digest = new SetDigest();
      for (const item of items) digest.add(itemHash(item));
      const changed = { ...items[7], n: { N: '-7' } };
      digest.remove(itemHash(items[7]));
      digest.add(itemHash(changed));
      const expected = digestOf(items.map((item, i) => (i === 7 ? changed : item)));
      expect({ count: digest.count, digest: digest.hex() }).to.deep.equal(expected);
    });

    it('equals another digest only with the same count and sum', () => {
      const a = new SetDigest();
      const b = new SetDigest();
      a.add(itemHash(items[0]));
      b.add(itemHash(items[0]));
      expect(a.equals(b)).to.equal(true);
      b.add(itemHash(items[1]));
      expect(a.equals(b)).to.equal(false);
    });
  });

  describe('keys and sizes', () => {
    it('identifies an item by PK and SK, unambiguously, and back', () => {
      const key = itemKey(order);
      expect(key).to.deep.equal({ PK: 'TENANT#acme', SK: 'ORDER#0001' });
      expect(keyFromId(keyId(key))).to.deep.equal(key);
      expect(keyId({ PK: 'a","b', SK: 'c' })).to.not.equal(keyId({ PK: 'a', SK: 'b","c' }));
      expect(() => itemKey({ PK: { N: '1' }, SK: { S: 'x' } })).to.throw(/string PK and SK/);
    });

    it('measures an item as DynamoDB does: names plus values, numbers by significant digits, 3 + 1 per element for lists and maps', () => {
      // PK 2+11; SK 2+10; total 5+(1+ceil(3/2)); lines 5+3+(1+1)+(1+(1+1)); tags 4+(3+4), no
      // overhead for sets; meta 4+3+(1+4+1)+(1+4+1)+(1+3+2).
      expect(itemSize(order)).to.equal(13 + 12 + 8 + 13 + 11 + 25);
    });
  });
});
