// Reads LZ4 frames (the LZ4 Frame Format Description, v1.6.x) block by block with the lz4
// package's native block decoder and xxhash.
//
// Why not lz4.decode: its stream decoder zero-fills a new buffer of the frame's block maximum size
// for every block, and the package's encoder writes 4 MB as that maximum, so each Kafka message of
// a few tens of KB cost a 4 MB Buffer.alloc; in the sink's CPU profile that was the largest single
// item (about 12 % of self time, and much of the garbage collector's). Here every block decodes
// into one scratch buffer that lives as long as the process, and only the decoded bytes are copied
// out. What is checked stays the same as lz4.decode: magic, version, header checksum, block and
// content checksums when the frame has them, truncation. Unlike lz4.decode, a truncated frame
// throws (lz4.decode emitted an 'error' event after returning, which ends the process), and
// concatenated and skippable frames are read as the frame format says (lz4.decode fails the
// second frame's checksum and hangs on a skippable one).
import lz4 from 'lz4';

const MAGIC = 0x184d2204;
/** Skippable frames: magic 0x184D2A50 to 0x184D2A5F, then a 4-byte size. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE = 0x184d2a50;
/** BD byte bits 6-4 → block maximum size; 0-3 are reserved. */
const BLOCK_MAX: readonly (number | null)[] = [null, null, null, null, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

let scratch: Buffer | null = null;

function scratchOf(bytes: number): Buffer {
  // allocUnsafe: the block decoder writes every byte it reports, and only those are read.
  if (!scratch || scratch.length < bytes) scratch = Buffer.allocUnsafe(bytes);
  return scratch;
}

function u32(buf: Buffer, pos: number, what: string): number {
  if (pos + 4 > buf.length) throw new Error(`Unexpected end of LZ4 stream (${what})`);
  return buf.readUInt32LE(pos);
}

/** The decompressed contents of one or more LZ4 frames; throws on anything else. */
export function unframe(input: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  if (input.length === 0) return Buffer.alloc(0);
  while (pos < input.length) {
    const magic = u32(input, pos, 'magic number');
    pos += 4;
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE) {
      pos += 4 + u32(input, pos, 'skippable frame size');
      if (pos > input.length) throw new Error('Unexpected end of LZ4 stream (skippable frame)');
      continue;
    }
    if (magic !== MAGIC) throw new Error(`Invalid magic number: ${magic.toString(16).toUpperCase()} @${pos - 4}`);
    pos = readFrame(input, pos, out);
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

/** One frame from just past its magic number; returns where the next one starts. */
function readFrame(input: Buffer, start: number, out: Buffer[]): number {
  if (start + 2 > input.length) throw new Error('Unexpected end of LZ4 stream (frame descriptor)');
  const flg = input[start]!;
  const bd = input[start + 1]!;
  if (flg >> 6 !== 1) throw new Error(`Invalid version: ${flg >> 6} != 1`);
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictId = (flg & 0x01) !== 0;
  const blockMax = BLOCK_MAX[(bd >> 4) & 7] ?? null;
  if (blockMax === null) throw new Error(`Invalid data block max size: ${(bd >> 4) & 7}`);
  let pos = start + 2 + (contentSize ? 8 : 0) + (dictId ? 4 : 0);
  if (pos + 1 > input.length) throw new Error('Unexpected end of LZ4 stream (frame descriptor)');
  const headerSum = lz4.utils.descriptorChecksum(input.subarray(start, pos));
  if (headerSum !== input[pos]) throw new Error(`Invalid stream descriptor checksum: ${input[pos]} != ${headerSum}`);
  pos++;
  // The lz4 package's decoder has no preset dictionary either: such a frame fails in the block decoder.
  // xxhash state, begun by the first block (streamChecksum's own convention: null starts one).
  let hash: unknown = null;
  for (;;) {
    const word = u32(input, pos, 'data block size');
    pos += 4;
    if (word === 0) break;
    const stored = (word & 0x80000000) !== 0;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw new Error(`Invalid data block size: ${size} > ${blockMax}`);
    if (pos + size > input.length) throw new Error('Unexpected end of LZ4 stream (data block)');
    const block = input.subarray(pos, pos + size);
    pos += size;
    if (blockChecksum) {
      const sum = u32(input, pos, 'data block checksum');
      pos += 4;
      if (lz4.utils.blockChecksum(block) !== sum) throw new Error('Invalid block checksum');
    }
    let data: Buffer;
    if (stored) {
      data = Buffer.from(block); // a copy: the caller may keep it after the input is reused
    } else {
      const target = scratchOf(blockMax);
      const n = lz4.decodeBlock(block, target);
      if (n < 0) throw new Error(`Invalid data block: ${-n}`);
      data = Buffer.allocUnsafe(n);
      target.copy(data, 0, 0, n);
    }
    if (contentChecksum) hash = lz4.utils.streamChecksum(data, hash);
    out.push(data);
  }
  if (contentChecksum) {
    const sum = u32(input, pos, 'content checksum');
    pos += 4;
    const expected = lz4.utils.streamChecksum(null, hash) as number;
    if (sum !== expected) throw new Error(`Invalid stream checksum: ${sum.toString(16).toUpperCase()}`);
  }
  return pos;
}
