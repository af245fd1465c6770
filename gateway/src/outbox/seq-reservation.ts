// Batch seqs must never be reused (the sink's ledger would drop a new batch that reuses one), also
// when the outbox file is lost: corrupt and moved aside, or deleted by hand. The outbox therefore
// reserves seqs in blocks in a small file beside it, written atomically before any seq of a block
// is handed out. A fresh outbox starts above the last reservation. One fsync per block, not per batch.
import { readFileSync } from 'node:fs';
import { writeFileDurably } from '../durable-file.js';

export const SEQ_BLOCK = 10_000;

export class SeqReservation {
  /** Seqs below this may have been handed out; none at or above it has. */
  private reserved: number;

  constructor(private readonly file: string) {
    this.reserved = readReservation(file);
  }

  /** The first seq a fresh outbox may use: above everything any earlier outbox may have used. */
  get floor(): number {
    return Math.max(1, this.reserved);
  }

  /** Call before handing out `seq`; writes a new reservation when the block is used up. */
  ensure(seq: number): void {
    if (seq < this.reserved) return;
    const next = seq + SEQ_BLOCK;
    writeFileDurably(this.file, `${next}\n`);
    this.reserved = next;
  }
}

function readReservation(file: string): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}
