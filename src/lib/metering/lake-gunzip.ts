import { constants, Gunzip, gunzipSync } from 'node:zlib';

/**
 * Gunzips lake objects one after another into one output buffer that it keeps, for the stream
 * engine's parsers. gunzipSync allocates a fresh buffer the size of each object's text; those
 * die at once but are only freed by a later GC, so up to tens of megabytes of dead text sit
 * in each thread and every object's text lands on memory the OS has to map in anew. Measured
 * on the reconcile benchmark, keeping one buffer saved about 50 MB of peak RSS and 15% of the
 * time.
 *
 * Node has no public API to inflate into a given buffer, so this drives the zlib handle the
 * way gunzipSync itself does (`_handle.writeSync` and `_writeState`, unchanged since Node 10).
 * It checks that they are there and falls back to gunzipSync when they are not, when zlib
 * reports an error (so the error is gunzipSync's own), and when the result's length is not the
 * one the gzip trailer records (an object of several gzip members, say).
 */
export class Gunzipper {
  private out: Buffer;
  private stream: ZlibInternals | undefined;
  private error: string | undefined;

  constructor(private readonly keepBelow = KEEP_BELOW) {
    this.out = Buffer.allocUnsafeSlow(64 * 1024);
  }

  /** The object's text: valid until the next call, which reuses its memory. */
  gunzip(gzipped: Uint8Array): Buffer {
    let text: Buffer | undefined;
    try {
      text = this.inflate(gzipped);
    } catch {
      this.stream = undefined;
    }
    if (text !== undefined) return text;
    // The reference: same bytes, same errors.
    return gunzipSync(gzipped, { chunkSize: outputChunk(gzipped) });
  }

  private inflate(gzipped: Uint8Array): Buffer | undefined {
    const stream = this.stream ?? this.open();
    if (stream === undefined || gzipped.length < 18) return undefined;
    const { _handle: handle, _writeState: state } = stream;
    const expected = recordedSize(gzipped);
    if (this.out.length <= expected && expected < this.keepBelow)
      this.out = Buffer.allocUnsafeSlow(expected + 1);
    let out = this.out;
    let inOffset = 0;
    let inLeft = gzipped.length;
    let outOffset = 0;
    for (;;) {
      const outLeft = out.length - outOffset;
      handle.writeSync(constants.Z_FINISH, gzipped, inOffset, inLeft, out, outOffset, outLeft);
      if (this.error !== undefined) {
        // The handle is spent: the next object gets a new one.
        this.stream = undefined;
        return undefined;
      }
      outOffset += outLeft - state[0];
      inOffset += inLeft - state[1];
      inLeft = state[1];
      if (state[0] !== 0) break;
      const bigger = Buffer.allocUnsafeSlow(2 * out.length);
      out.copy(bigger, 0, 0, outOffset);
      out = bigger;
    }
    handle.reset();
    if (out.length < this.keepBelow) this.out = out;
    if (outOffset % 2 ** 32 !== expected || inLeft !== 0) return undefined;
    return out.subarray(0, outOffset);
  }

  private open(): ZlibInternals | undefined {
    const stream = new Gunzip() as unknown as Partial<ZlibInternals>;
    const handle = stream._handle;
    const state = stream._writeState;
    if (
      typeof handle?.writeSync !== 'function' ||
      typeof handle.reset !== 'function' ||
      !(state instanceof Uint32Array) ||
      state.length < 2
    ) {
      return undefined;
    }
    this.error = undefined;
    handle.onerror = (message: string) => {
      this.error = message;
    };
    this.stream = { _handle: handle, _writeState: state };
    return this.stream;
  }
}

/** The parts of a zlib stream gunzipSync drives (lib/zlib.js, processChunkSync). */
interface ZlibInternals {
  readonly _handle: {
    writeSync(
      flush: number,
      input: Uint8Array,
      inOffset: number,
      inLength: number,
      output: Uint8Array,
      outOffset: number,
      outLength: number,
    ): void;
    reset(): void;
    onerror: (message: string) => void;
  };
  /** After a write: output space left, input left. */
  readonly _writeState: Uint32Array;
}

/** An output buffer larger than this is not kept between objects. */
const KEEP_BELOW = 64 * 1024 * 1024;

/** The uncompressed size a gzip trailer records (ISIZE: of the last member, mod 2^32). */
function recordedSize(gzipped: Uint8Array): number {
  const n = gzipped.length;
  return (gzipped[n - 4] | (gzipped[n - 3] << 8) | (gzipped[n - 2] << 16) | (gzipped[n - 1] << 24)) >>> 0;
}

/**
 * gunzipSync's output chunk for an object: the size its trailer records plus one, so a
 * single-member object inflates into one buffer, never joined from pieces. A wrong or hostile
 * trailer only costs speed. Bounded to 64 KB - 256 MB.
 */
function outputChunk(gzipped: Uint8Array): number {
  if (gzipped.length < 18) return 64 * 1024;
  return Math.min(256 * 1024 * 1024, Math.max(64 * 1024, recordedSize(gzipped) + 1));
}
