import { randomBytes } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';

import { expect } from 'chai';

import { Gunzipper } from '../../../src/lib/metering/lake-gunzip.js';

function outcome(run: () => Buffer): { text?: string; error?: string } {
  try {
    return { text: run().toString('latin1') };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('Gunzipper', () => {
  const lines = (n: number, seed: string) =>
    Array.from({ length: n }, (_, i) => `{"n":${i},"s":"${seed}"}`).join('\n') + '\n';

  it('gives what gunzipSync gives, object after object, growing its buffer when one is larger', () => {
    const gunzipper = new Gunzipper();
    for (const n of [10, 5_000, 3, 200_000, 1, 60_000, 0]) {
      const gzipped = gzipSync(lines(n, `x${n}`));
      expect(gunzipper.gunzip(gzipped).equals(gunzipSync(gzipped)), `${n} lines`).to.equal(true);
    }
  });

  it('reuses its memory from one object to the next', () => {
    const gunzipper = new Gunzipper();
    const first = gunzipper.gunzip(gzipSync(lines(1_000, 'a')));
    const second = gunzipper.gunzip(gzipSync(lines(900, 'b')));
    expect(second.buffer).to.equal(first.buffer);
    expect(second.toString('latin1')).to.equal(lines(900, 'b'));
  });

  it('reads an object whose trailer lies about its size, or that has several gzip members', () => {
    const gunzipper = new Gunzipper();
    const lying = Buffer.from(gzipSync(lines(3_000, 'c')));
    lying.writeUInt32LE(100, lying.length - 4);
    const twoMembers = Buffer.concat([gzipSync(lines(50, 'd')), gzipSync(lines(70_000, 'e'))]);
    for (const gzipped of [lying, twoMembers, gzipSync(lines(20, 'f'))]) {
      expect(outcome(() => gunzipper.gunzip(gzipped))).to.deep.equal(outcome(() => gunzipSync(gzipped)));
    }
  });

  it('fails as gunzipSync does on what is not gzip, then reads the next object', () => {
    const gunzipper = new Gunzipper();
    const good = gzipSync(lines(100, 'g'));
    const corrupt = Buffer.from(good);
    corrupt.fill(0x55, 20, 60);
    for (const bad of [
      Buffer.from('plain text, not gzip at all'),
      good.subarray(0, good.length - 30),
      corrupt,
    ]) {
      const expected = outcome(() => gunzipSync(bad));
      expect(expected.error).to.be.a('string');
      expect(outcome(() => gunzipper.gunzip(bad))).to.deep.equal(expected);
      expect(gunzipper.gunzip(good).toString('latin1')).to.equal(lines(100, 'g'));
    }
    const garbage = randomBytes(5_000);
    expect(outcome(() => gunzipper.gunzip(garbage))).to.deep.equal(outcome(() => gunzipSync(garbage)));
  });
});
