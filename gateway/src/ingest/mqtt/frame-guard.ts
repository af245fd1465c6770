// Bounds what one MQTT connection can make the broker buffer. mqtt-packet (aedes' parser) collects
// a packet until its announced Remaining Length has arrived, so a header claiming 256 MB
// [MQTT-2.2.3] would grow memory without limit. This Transform follows packet boundaries — fixed
// header byte, Remaining Length as a variable byte integer of at most four bytes — and fails the
// stream before the body of a packet over the limit is buffered.
import { Duplex, Transform, type TransformCallback } from 'node:stream';

export class MqttFrameGuard extends Transform {
  /** Bytes of the current packet's body still to pass; -1 while reading a fixed header. */
  private bodyLeft = -1;
  private header: number[] = [];

  constructor(private readonly maxPacketBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= n;
        i += n;
        if (this.bodyLeft === 0) this.bodyLeft = -1;
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length === 1) continue; // packet type and flags
      const last = this.header[this.header.length - 1]!;
      if (last & 0x80) {
        // [MQTT-1.5.5]: a variable byte integer has at most four bytes.
        if (this.header.length > 4) return done(new Error('malformed Remaining Length'));
        continue;
      }
      let length = 0;
      for (let k = this.header.length - 1; k >= 1; k--) length = length * 128 + (this.header[k]! & 0x7f);
      if (length + this.header.length > this.maxPacketBytes) {
        return done(new Error(`packet of ${length} bytes exceeds the ${this.maxPacketBytes}-byte limit`));
      }
      this.header = [];
      this.bodyLeft = length === 0 ? -1 : length;
    }
    done(null, chunk);
  }
}

/**
 * The connection aedes sees: reads through the guard, writes straight to the socket. `socket` stays
 * reachable for the TLS peer certificate and the remote address.
 */
export function guardedConnection(socket: Duplex, maxPacketBytes: number): Duplex & { socket: Duplex } {
  const guard = new MqttFrameGuard(maxPacketBytes);
  const conn = Duplex.from({ readable: socket.pipe(guard), writable: socket }) as Duplex & { socket: Duplex };
  conn.socket = socket;
  // mqtt-packet corks the connection for every packet it writes and uncorks on the next tick, so
  // the PUBACKs of one group commit pile up here. Without a _writev, Duplex.from hands them to the
  // socket one chunk at a time, each its own write(2) (three for one PUBACK): that was 11% of the
  // ingest's CPU. Corking the socket makes them one writev.
  conn._writev = (chunks, done) => {
    socket.cork();
    let ok = true;
    for (const { chunk, encoding } of chunks) ok = socket.write(chunk, encoding);
    socket.uncork();
    if (ok) return done();
    const resume = () => {
      socket.off('drain', resume);
      socket.off('close', resume);
      done();
    };
    socket.on('drain', resume);
    socket.on('close', resume);
  };
  guard.on('error', () => socket.destroy());
  socket.on('error', () => conn.destroy());
  socket.on('close', () => conn.destroy());
  conn.on('close', () => socket.destroy());
  return conn;
}
