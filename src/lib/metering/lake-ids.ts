/**
 * Exact sets of event ids for the stream engine's deduplication. Ids in the form randomUUID and
 * the emitter make (a lowercase UUID) are packed by the parser into four 32-bit words and kept
 * in a UuidSet; any other id is kept by its bytes in an IdSet. Packing is one-to-one and only
 * that exact spelling is packed, so an id is always in the same set and comparisons stay exact.
 */

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = 10 + c;
/** Two lowercase hex digits (read as a little-endian 16-bit word) to their byte; -1 if not both hex. */
const HEX_PAIR = new Int16Array(65536).fill(-1);
for (let a = 0; a < 256; a++) {
  for (let b = 0; b < 256; b++)
    if (HEX[a] >= 0 && HEX[b] >= 0) HEX_PAIR[a | (b << 8)] = (HEX[a] << 4) | HEX[b];
}
const HYPHEN = 45;

/**
 * Packs the 36 bytes at `at` into `out[o, o + 4)` when they are a UUID in lowercase hex with
 * its four hyphens in place; false otherwise (and `out` is then to be ignored).
 */
export function packUuid(view: DataView, at: number, out: Int32Array, o: number): boolean {
  if (
    view.getUint8(at + 8) !== HYPHEN ||
    view.getUint8(at + 13) !== HYPHEN ||
    view.getUint8(at + 18) !== HYPHEN ||
    view.getUint8(at + 23) !== HYPHEN
  ) {
    return false;
  }
  // A non-hex pair maps to -1, which sets the sign bit of `bad`.
  const a0 = HEX_PAIR[view.getUint16(at, true)];
  const a1 = HEX_PAIR[view.getUint16(at + 2, true)];
  const a2 = HEX_PAIR[view.getUint16(at + 4, true)];
  const a3 = HEX_PAIR[view.getUint16(at + 6, true)];
  const b0 = HEX_PAIR[view.getUint16(at + 9, true)];
  const b1 = HEX_PAIR[view.getUint16(at + 11, true)];
  const b2 = HEX_PAIR[view.getUint16(at + 14, true)];
  const b3 = HEX_PAIR[view.getUint16(at + 16, true)];
  const c0 = HEX_PAIR[view.getUint16(at + 19, true)];
  const c1 = HEX_PAIR[view.getUint16(at + 21, true)];
  const c2 = HEX_PAIR[view.getUint16(at + 24, true)];
  const c3 = HEX_PAIR[view.getUint16(at + 26, true)];
  const d0 = HEX_PAIR[view.getUint16(at + 28, true)];
  const d1 = HEX_PAIR[view.getUint16(at + 30, true)];
  const d2 = HEX_PAIR[view.getUint16(at + 32, true)];
  const d3 = HEX_PAIR[view.getUint16(at + 34, true)];
  const bad = a0 | a1 | a2 | a3 | b0 | b1 | b2 | b3 | c0 | c1 | c2 | c3 | d0 | d1 | d2 | d3;
  out[o] = (a0 << 24) | (a1 << 16) | (a2 << 8) | a3;
  out[o + 1] = (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
  out[o + 2] = (c0 << 24) | (c1 << 16) | (c2 << 8) | c3;
  out[o + 3] = (d0 << 24) | (d1 << 16) | (d2 << 8) | d3;
  return bad >= 0;
}

/** packUuid of a string id (the general path's), into `out[o, o + 4)`. */
export function packUuidString(id: string, out: Int32Array, o: number): boolean {
  if (id.length !== 36) return false;
  const bytes = new Uint8Array(36);
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (c > 255) return false;
    bytes[i] = c;
  }
  return packUuid(new DataView(bytes.buffer), 0, out, o);
}

/** The id a packed UUID was read from. */
export function uuidString(words: Int32Array, o: number): string {
  const hex = (w: number) => (w >>> 0).toString(16).padStart(8, '0');
  const [a, b, c, d] = [hex(words[o]), hex(words[o + 1]), hex(words[o + 2]), hex(words[o + 3])];
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
}

/**
 * An exact set of packed UUIDs: open addressing with the four words in the slot itself, so a
 * probe touches one cache line and compares integers. 16 bytes a slot, at most 3/4 full. A
 * slot of four zero words is empty; the all-zero UUID is kept apart.
 */
export class UuidSet {
  private table: Int32Array;
  private zero = false;
  size = 0;

  /** `expected`: how many ids it will likely hold; the table starts large enough for them. */
  constructor(expected = 0) {
    this.table = new Int32Array(4 * slotsFor(expected));
  }

  /** Adds the UUID packed at `words[o, o + 4)`; false when it was already there. */
  add(words: Int32Array, o: number): boolean {
    const a = words[o];
    const b = words[o + 1];
    const c = words[o + 2];
    const d = words[o + 3];
    if ((a | b | c | d) === 0) {
      if (this.zero) return false;
      this.zero = true;
      this.size++;
      return true;
    }
    const table = this.table;
    const mask = (table.length >> 2) - 1;
    for (let i = mix(a, b, c, d) & mask; ; i = (i + 1) & mask) {
      const s = i << 2;
      const x = table[s];
      const y = table[s + 1];
      const z = table[s + 2];
      const w = table[s + 3];
      if (x === a && y === b && z === c && w === d) return false;
      if ((x | y | z | w) === 0) {
        table[s] = a;
        table[s + 1] = b;
        table[s + 2] = c;
        table[s + 3] = d;
        if (++this.size * 4 > (mask + 1) * 3) this.grow();
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.table;
    const table = new Int32Array(old.length * 2);
    const mask = (table.length >> 2) - 1;
    for (let s = 0; s < old.length; s += 4) {
      const a = old[s];
      const b = old[s + 1];
      const c = old[s + 2];
      const d = old[s + 3];
      if ((a | b | c | d) === 0) continue;
      let i = mix(a, b, c, d) & mask;
      while ((table[i << 2] | table[(i << 2) + 1] | table[(i << 2) + 2] | table[(i << 2) + 3]) !== 0) {
        i = (i + 1) & mask;
      }
      const t = i << 2;
      table[t] = a;
      table[t + 1] = b;
      table[t + 2] = c;
      table[t + 3] = d;
    }
    this.table = table;
  }
}

/** A hash of the four words: UUIDs need not be random (v1, v7, or made up), so all bits are mixed. */
function mix(a: number, b: number, c: number, d: number): number {
  let h = a ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ Math.imul(d, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h;
}

function slotsFor(expected: number): number {
  let slots = 1024;
  while (slots * 3 < expected * 4) slots *= 2;
  return slots;
}

/**
 * An exact set of any other event ids: open addressing on their FNV-1a hash, the ids' bytes kept
 * in pages and compared in full on a hash match.
 */
export class IdSet {
  // Slot i is table[2i] = the id's place + 1 (0: empty) and table[2i + 1] = its hash, side by
  // side so that a probe touches one cache line. Ids are kept in pages (a length byte, then the
  // bytes); a place is page * PAGE + offset, and pages are never copied.
  private table: Int32Array;
  private readonly pages: Uint8Array[] = [];
  private page = new Uint8Array(0);
  private used = 0;
  size = 0;

  /** `expected`: how many ids it will likely hold; the table starts large enough for them. */
  constructor(expected = 0) {
    this.table = new Int32Array(2 * slotsFor(expected));
  }

  /** Adds the id `bytes[start, end)` (at most 255 bytes) with its hash; false when it was already there. */
  add(hash: number, bytes: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    const table = this.table;
    const mask = (table.length >> 1) - 1;
    const key = hash | 0;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const place = table[2 * i];
      if (place === 0) {
        table[2 * i] = this.store(bytes, start, length) + 1;
        table[2 * i + 1] = key;
        if (++this.size * 4 > (mask + 1) * 3) this.table = doubledTable(this.table);
        return true;
      }
      if (table[2 * i + 1] === key && this.same(place - 1, bytes, start, length)) return false;
    }
  }

  private store(bytes: Uint8Array, start: number, length: number): number {
    if (this.used + length + 1 > this.page.length) {
      // Pages double from 4 KB to PAGE: a quiet hour's set stays small.
      this.page = new Uint8Array(Math.min(PAGE, Math.max(4096, this.page.length * 2)));
      this.pages.push(this.page);
      this.used = 0;
    }
    const page = this.page;
    const place = (this.pages.length - 1) * PAGE + this.used;
    let to = this.used;
    page[to++] = length;
    for (let k = start; k < start + length; k++) page[to++] = bytes[k];
    this.used = to;
    return place;
  }

  private same(place: number, bytes: Uint8Array, start: number, length: number): boolean {
    const page = this.pages[Math.floor(place / PAGE)];
    let at = place % PAGE;
    if (page[at++] !== length) return false;
    for (let k = 0; k < length; k++) if (page[at + k] !== bytes[start + k]) return false;
    return true;
  }
}

/** IdSet's page size: places stay below 2^31 for 8,192 pages (2 GB of ids per hour). */
const PAGE = 256 * 1024;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** FNV-1a of `bytes[start, end)`. */
export function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i], FNV_PRIME);
  return hash;
}

/**
 * An open-addressing table of [value, hash] pairs (value 0: empty slot) at twice the size,
 * each pair reinserted by its hash.
 */
export function doubledTable(old: Int32Array): Int32Array<ArrayBuffer> {
  const table = new Int32Array(old.length * 2);
  const mask = (table.length >> 1) - 1;
  for (let j = 0; j < old.length; j += 2) {
    if (old[j] === 0) continue;
    let i = old[j + 1] & mask;
    while (table[2 * i] !== 0) i = (i + 1) & mask;
    table[2 * i] = old[j];
    table[2 * i + 1] = old[j + 1];
  }
  return table;
}
