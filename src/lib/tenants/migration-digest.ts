import { createHash } from 'node:crypto';

import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * How a migration proves two copies of a tenant's data are equal without sorting either:
 * every item gets a SHA-256 over a canonical encoding (attribute order, set order and the
 * spelling of numbers do not matter; types do), and a side's digest is the item count plus the
 * sum of its item hashes modulo 2^256. A sum is order-independent like XOR, but two equal hashes
 * do not cancel out, and it can be updated in place when one item changes (subtract, add).
 */

export type Item = Record<string, AttributeValue>;

/** The key schema of the pooled table and of every silo table (DESIGN.md "Data model"). */
export const KEY_ATTRIBUTES = ['PK', 'SK'] as const;

export interface ItemKey {
  readonly PK: string;
  readonly SK: string;
}

/** The item's key; both key attributes are strings in every table a migration touches. */
export function itemKey(item: Item): ItemKey {
  const PK = item.PK?.S;
  const SK = item.SK?.S;
  if (PK === undefined || SK === undefined) {
    throw new Error('An item without string PK and SK attributes: not a tenant data item.');
  }
  return { PK, SK };
}

/** One string per key, unambiguous whatever the key contains: a map key for per-item hashes. */
export function keyId(key: ItemKey): string {
  return JSON.stringify([key.PK, key.SK]);
}

export function keyFromId(id: string): ItemKey {
  const [PK, SK] = JSON.parse(id) as [string, string];
  return { PK, SK };
}

export function keyAttributes(key: ItemKey): Item {
  return { PK: { S: key.PK }, SK: { S: key.SK } };
}

/**
 * DynamoDB numbers as one spelling: significant digits and a power of ten ("1e2" for 100, 1e2
 * and 100.0; "-125e-2" for -1.25; "0" for any zero). DynamoDB trims leading and trailing zeros
 * itself, but a digest must not depend on who wrote the number how.
 */
export function canonicalNumber(value: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(value.trim());
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) {
    throw new Error(`Not a DynamoDB number: ${JSON.stringify(value)}`);
  }
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return '0';
  let power = Number(exponent) - fraction.length;
  const trimmed = digits.replace(/0+$/, '');
  power += digits.length - trimmed.length;
  digits = trimmed;
  return `${sign === '-' ? '-' : ''}${digits}e${power}`;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Plain integers, the common case, without the general parse: "1200" is "12e2". */
function fastNumber(value: string): string {
  if (!/^-?[1-9]\d*$/.test(value)) return canonicalNumber(value);
  let end = value.length;
  while (value.charCodeAt(end - 1) === 48) end--;
  return `${value.slice(0, end)}e${value.length - end}`;
}

/** A string as `<length>:<text>`: unambiguous whatever the text holds, and cheaper than quoting. */
function counted(text: string): string {
  return `${text.length}:${text}`;
}

/**
 * A canonical, type-tagged text for an attribute value: strings and names carry their length,
 * numbers their canonical spelling, sets are sorted, map keys are sorted, lists keep their order.
 */
export function encodeValue(value: AttributeValue): string {
  if (value.S !== undefined) return `S${counted(value.S)}`;
  if (value.N !== undefined) return `N${fastNumber(value.N)}`;
  if (value.B !== undefined) return `B${base64(value.B)}`;
  if (value.BOOL !== undefined) return value.BOOL ? 'T' : 'F';
  if (value.NULL !== undefined) return 'Z';
  if (value.SS !== undefined) return `SS[${[...value.SS].sort().map(counted).join(',')}]`;
  if (value.NS !== undefined) return `NS[${value.NS.map(fastNumber).sort().join(',')}]`;
  if (value.BS !== undefined) return `BS[${value.BS.map(base64).sort().join(',')}]`;
  if (value.L !== undefined) return `L[${value.L.map(encodeValue).join(',')}]`;
  if (value.M !== undefined) return `M${encodeMap(value.M)}`;
  throw new Error(`Unknown DynamoDB attribute type: ${Object.keys(value).join(', ')}`);
}

function encodeMap(map: Record<string, AttributeValue>): string {
  const names = Object.keys(map).sort();
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    out += `${counted(names[i])}${encodeValue(map[names[i]])}`;
  }
  return `${out}}`;
}

/** The canonical encoding of a whole item. */
export function encodeItem(item: Item): string {
  return encodeMap(item);
}

/** SHA-256 of the item's canonical encoding. */
export function itemHash(item: Item): Buffer {
  return createHash('sha256').update(encodeItem(item)).digest();
}

const MODULUS = 1n << 256n;

function toBigInt(hash: Buffer): bigint {
  return BigInt(`0x${hash.toString('hex')}`);
}

/** Count and sum of item hashes modulo 2^256: the same for the same items in any order. */
export class SetDigest {
  private sum = 0n;
  count = 0;

  add(hash: Buffer): void {
    this.sum = (this.sum + toBigInt(hash)) % MODULUS;
    this.count++;
  }

  remove(hash: Buffer): void {
    this.sum = (this.sum - toBigInt(hash) + MODULUS) % MODULUS;
    this.count--;
  }

  /** 64 hex digits. */
  hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }

  equals(other: SetDigest): boolean {
    return this.count === other.count && this.sum === other.sum;
  }
}

/** The digest of a list of items (tests and benchmarks; migrations build theirs as they read). */
export function digestOf(items: Iterable<Item>): { count: number; digest: string } {
  const digest = new SetDigest();
  for (const item of items) digest.add(itemHash(item));
  return { count: digest.count, digest: digest.hex() };
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function numberSize(value: string): number {
  const digits = canonicalNumber(value).replace(/^-/, '').replace(/e.*$/, '');
  return 1 + Math.ceil((digits === '0' ? 1 : digits.length) / 2);
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8Length(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((n, s) => n + utf8Length(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((n, s) => n + numberSize(s), 0);
  if (value.BS !== undefined) return value.BS.reduce((n, b) => n + b.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((n, v) => n + 1 + valueSize(v), 0);
  if (value.M !== undefined) {
    return 3 + Object.entries(value.M).reduce((n, [k, v]) => n + 1 + utf8Length(k) + valueSize(v), 0);
  }
  return 0;
}

/**
 * The item's size as DynamoDB counts it (attribute names plus values; numbers about one byte
 * per two significant digits plus one; 3 bytes per list or map and 1 per element): what the
 * plan reports as bytes to move.
 */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8Length(name) + valueSize(value);
  return size;
}
