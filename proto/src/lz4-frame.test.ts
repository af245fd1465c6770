// unframe must read exactly what the lz4 package's decoder reads and refuse exactly what it refuses:
// the sink's DLQ decisions (FL_ERR_WIRE_LZ4) may not change with the faster reader. Frames of every
// shape the package's encoder writes, concatenated and skippable frames, then truncations and
// single-byte corruptions. lz4.decode itself reports a truncated frame by an 'error' event after it
// has returned, which no caller can catch and which ends the process; unframe throws at once, so
// those cases are checked on unframe alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import lz4 from 'lz4';
import { unframe } from './lz4-frame.js';

type Outcome = { ok: true; bytes: string } | { ok: false };

function outcome(f: () => Buffer): Outcome {
  try {
    return { ok: true, bytes: f().toString('hex') };
  } catch {
    return { ok: false };
  }
}

/** Deterministic bytes: compressible runs with some noise, so blocks are both compressed and stored. */
function payload(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = i % 64 < 40 ? (i >> 6) & 0xff : x & 0xff;
  }
  return b;
}

const encode = lz4.encode as (input: Buffer, options?: Record<string, unknown>) => Buffer;

describe('lz4-frame unframe', () => {
  const shapes: { name: string; input: Buffer; options?: Record<string, unknown> }[] = [
    { name: 'empty', input: Buffer.alloc(0) },
    { name: 'small', input: payload(300, 1) },
    { name: 'a batch-sized value', input: payload(60_000, 2) },
    { name: 'several 64 KB blocks', input: payload(200_000, 3), options: { blockMaxSize: 64 << 10 } },
    { name: 'no content checksum', input: payload(5_000, 5), options: { streamChecksum: false } },
    { name: 'random (stored blocks)', input: Buffer.from(Array.from({ length: 4_000 }, (_, i) => (i * 2654435761) >>> 24)) },
  ];

  for (const s of shapes) {
    it(`reads ${s.name} as lz4.decode does`, () => {
      const frame = encode(s.input, s.options);
      assert.deepEqual(unframe(frame), lz4.decode(frame));
      assert.deepEqual(unframe(frame), s.input);
    });
  }

  // lz4.decode hangs on a skippable frame and fails the second frame's checksum (its xxhash state is
  // not reset), so the expected bytes are the payloads themselves.
  it('reads concatenated frames and skips skippable ones', () => {
    const skippable = Buffer.alloc(12);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(4, 4);
    const input = Buffer.concat([encode(payload(1000, 7)), skippable, encode(payload(2000, 8))]);
    assert.deepEqual(unframe(input), Buffer.concat([payload(1000, 7), payload(2000, 8)]));
  });

  it('refuses every truncation, and every byte flip that the content checksum or the framing catches, at once', () => {
    const original = payload(70_000, 10);
    const frame = encode(original, { blockMaxSize: 64 << 10 });
    let refused = 0;
    for (let cut = 1; cut < frame.length; cut += 37) {
      assert.deepEqual(outcome(() => unframe(frame.subarray(0, cut))), { ok: false }, `cut at ${cut}`);
    }
    for (let at = 0; at < frame.length; at += 53) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const v = Buffer.from(frame);
        v[at]! ^= mask;
        const got = outcome(() => unframe(v));
        // Never other bytes than were framed: with a content checksum a flip is refused or harmless.
        if (got.ok) assert.equal(got.bytes, original.toString('hex'), `flip ${mask} at ${at}`);
        else refused++;
      }
    }
    assert.ok(refused > 100, `only ${refused} flips refused`);
    assert.deepEqual(outcome(() => unframe(Buffer.concat([frame, Buffer.from('junk')]))), { ok: false }, 'trailing bytes after a frame');
  });
});
