// The wire catalogue: why a Kafka message could not be read as the wire contract says (wire.ts). These
// never reach an HTTP client; the sink puts "code: message" in the DLQ's `error` header, and the
// status says the bytes are bad, so redelivering them cannot help.
import { defineCatalogue } from '../../common/src/errors.js';

const wire = defineCatalogue({
  FL_ERR_WIRE_LZ4: { status: 400, message: 'not an LZ4 frame' },
  FL_ERR_WIRE_PROTOBUF: { status: 400, message: 'not the protobuf message the topic carries' },
  FL_ERR_WIRE_EMPTY: { status: 400, message: 'message has no value' },
  FL_ERR_WIRE_COLUMNS: { status: 400, message: "a ReadingBatch's columns do not add up (a run without readings, values that do not match its readings, a bad scale or presence bitmap)" },
  FL_ERR_WIRE_BATCH_ID: { status: 400, message: 'batch has no gateway_id or seq' },
  // Redelivery can help here, unlike the codes above: a sink that learns the major reads the same bytes.
  FL_ERR_WIRE_SCHEMA_VERSION: { status: 400, message: 'schema_version is of a major this reader does not know' },
  // What the sink wraps any uncatalogued failure in before dead-lettering the message.
  FL_ERR_WIRE_DECODE: { status: 400, message: 'the message could not be decoded' },
  // The backlog file a field tech carries (outbox-file.ts): `outbox export` writes it, `outbox import` refuses a bad one.
  FL_ERR_WIRE_FILE_NOT_EXPORT: { status: 400, message: 'the file is not a Fieldline outbox export (no FLOUTBOX magic at its start)' },
  FL_ERR_WIRE_FILE_VERSION: { status: 400, message: 'the outbox export is of a format version this program does not read' },
  FL_ERR_WIRE_FILE_TRUNCATED: { status: 400, message: 'the outbox export ends early (a stick pulled while copying?); copy it again' },
  FL_ERR_WIRE_FILE_CHECKSUM: { status: 400, message: 'the outbox export is damaged: a checksum does not match; copy it again' },
  FL_ERR_WIRE_FILE_HEADER: { status: 400, message: "the outbox export's header is malformed or disagrees with its records" },
});

export const catalogue = wire.catalogue;
export type WireErrorCode = keyof typeof catalogue;

export class WireError extends wire.ErrorClass {}
