// The lz4 package ships no types; these are the two calls the wire codec uses.
declare module 'lz4' {
  const lz4: {
    /** Compresses into one LZ4 frame (magic 0x184D2204), the format the lz4 CLI reads. */
    encode(input: Buffer, options?: { blockMaxSize?: number; streamChecksum?: boolean }): Buffer;
    decode(input: Buffer): Buffer;
  };
  export default lz4;
}
