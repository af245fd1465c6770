// The lz4 package ships no types; these are the calls the wire codec (wire.ts, lz4-frame.ts) uses.
declare module 'lz4' {
  const lz4: {
    /** Compresses into one LZ4 frame (magic 0x184D2204), the format the lz4 CLI reads. */
    encode(input: Buffer, options?: { blockMaxSize?: number; streamChecksum?: boolean }): Buffer;
    decode(input: Buffer): Buffer;
    /** The stream decoder behind decode(); its errors arrive as 'error' events, some after end(). */
    createDecoderStream(): import('node:stream').Transform;
    /** LZ4_decompress_safe into `output`: the bytes written, or a negative number on bad input. */
    decodeBlock(input: Buffer, output: Buffer): number;
    utils: {
      /** The frame descriptor's checksum byte over FLG, BD and the optional fields. */
      descriptorChecksum(descriptor: Buffer): number;
      blockChecksum(block: Buffer): number;
      /** xxhash32 over a stream: `state` null begins one; `data` null returns the digest of `state`. */
      streamChecksum(data: Buffer | null, state: unknown): unknown;
    };
  };
  export default lz4;
}
