// What a producer one schema revision ahead of this code would send: telemetry.proto as it is, plus
// optional fields under new numbers in Reading and ReadingBatch (a scalar, and a message this code
// has never heard of), parsed at run time with protobufjs and framed like any batch. The numbers are
// far above the ones in use, so a real revision adding its fields never collides with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { lz4Frame } from '../../proto/src/wire.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

function edit(text: string, anchor: string, added: string): string {
  if (!text.includes(anchor)) throw new Error(`telemetry.proto no longer has ${JSON.stringify(anchor)}; update test/support/next-revision.ts`);
  return text.replace(anchor, `${anchor}\n${added}`);
}

/** telemetry.proto with the next revision's fields. */
export function nextRevisionProto(): string {
  let text = readFileSync(join(ROOT, 'proto', 'telemetry.proto'), 'utf8');
  text = edit(text, '  bool time_corrected = 7;', '  optional double battery_v = 100;');
  text = edit(text, '  uint32 schema_version = 5;', '  optional string site = 100;\n  optional Location location = 101;');
  return `${text}\nmessage Location {\n  double lat = 1;\n  double lon = 2;\n}\n`;
}

export interface NextRevisionBatch {
  gatewayId: string;
  seq: number;
  createdMs: number;
  schemaVersion: number;
  site?: string;
  location?: { lat: number; lon: number };
  readings: { deviceId: string; tsMs: number; metrics: Record<string, number>; batteryV?: number }[];
}

let types: { batch: protobuf.Type } | undefined;

function batchType(): protobuf.Type {
  types ??= { batch: protobuf.parse(nextRevisionProto(), { keepCase: false }).root.lookupType('fieldline.v1.ReadingBatch') };
  return types.batch;
}

/** The batch's protobuf bytes in the next revision's schema. */
export function encodeNextRevision(batch: NextRevisionBatch): Uint8Array {
  const t = batchType();
  return t.encode(t.fromObject(batch)).finish();
}

/** The same, framed as a Kafka value (one LZ4 frame). */
export function nextRevisionValue(batch: NextRevisionBatch): Buffer {
  return lz4Frame(encodeNextRevision(batch));
}

/** Decodes with the next revision's schema: what its own reader would see. */
export function decodeNextRevision(bytes: Uint8Array): Record<string, unknown> {
  const t = batchType();
  return t.toObject(t.decode(bytes), { defaults: false }) as Record<string, unknown>;
}
