// The gateway's error catalogue (CONVENTIONS.md, point 4). Every refusal a device, a field tech or an
// operator can see carries one of these codes; docs/ERRORS.md lists them and a test keeps the two in step.
// A bad config file is the loader's FL_ERR_CONFIG_INVALID (common/src/config.ts).
import { defineCatalogue } from '../../common/src/errors.js';

export { FieldlineError } from '../../common/src/errors.js';

const gateway = defineCatalogue({
  FL_ERR_INGEST_DEVICE_ID: { status: 400, message: 'device id must be 1-128 characters of A-Z a-z 0-9 _ . : -' },
  FL_ERR_INGEST_TOO_LARGE: { status: 413, message: 'payload exceeds the configured maximum size' },
  FL_ERR_DECODE_JSON: { status: 400, message: 'payload is not valid JSON' },
  FL_ERR_DECODE_CBOR: { status: 400, message: 'payload is not valid CBOR' },
  FL_ERR_DECODE_PROTOBUF: { status: 400, message: 'payload is not a protobuf Reading' },
  FL_ERR_VALIDATE_SHAPE: { status: 400, message: 'payload must be an object {"ts"?: number, "metrics": {name: number}}' },
  FL_ERR_VALIDATE_NO_METRICS: { status: 400, message: 'metrics must hold at least one value' },
  FL_ERR_VALIDATE_TOO_MANY_METRICS: { status: 400, message: 'too many metrics in one message' },
  FL_ERR_VALIDATE_METRIC_NAME: { status: 400, message: 'metric name must be 1-64 characters of A-Z a-z 0-9 _ . -' },
  FL_ERR_VALIDATE_NOT_NUMBER: { status: 400, message: 'metric value must be a JSON number' },
  FL_ERR_VALIDATE_NOT_FINITE: { status: 400, message: 'metric value must be finite' },
  FL_ERR_VALIDATE_OUT_OF_RANGE: { status: 400, message: 'metric value is outside the range configured for it' },
  FL_ERR_VALIDATE_UNKNOWN_DEVICE: { status: 403, message: 'device is not registered with this gateway' },
  FL_ERR_MQTT_ACL_DENIED: { status: 403, message: 'a device may publish and subscribe only under devices/{its id}/' },
  FL_ERR_MQTT_AUTH: { status: 401, message: 'MQTT connection refused: no valid certificate or login' },
  FL_ERR_MQTT_CERT_REVOKED: { status: 403, message: 'MQTT connection refused: the client certificate was revoked (fieldline-gateway device revoke)' },
  FL_ERR_MQTT_DISABLED: { status: 503, message: 'MQTT is not enabled on this gateway (mqtt.enabled)' },
  FL_ERR_MQTT_CLIENT_ID: { status: 400, message: 'MQTT connection refused: the client id is reserved (it names a JavaScript object property)' },
  FL_ERR_RATE_LIMITED: { status: 429, message: 'too many messages; slow down' },
  FL_ERR_VALIDATE_TIMESTAMP: { status: 400, message: 'ts must be epoch milliseconds within the accepted window' },
  FL_ERR_API_UNAUTHORIZED: { status: 401, message: 'a valid admin token is required' },
  FL_ERR_API_NOT_FOUND: { status: 404, message: 'no such resource' },
  FL_ERR_API_BAD_REQUEST: { status: 400, message: 'the request is malformed' },
  FL_ERR_API_INTERNAL: { status: 500, message: 'internal error' },
  FL_ERR_API_PAGE_MISSING: { status: 503, message: 'the commissioning page is not built: run `npm run build` (it writes dist/commissioning)' },
  FL_ERR_INGEST_UNAVAILABLE: { status: 503, message: 'readings cannot be stored right now; nothing was kept, retry later' },
  FL_ERR_COAP_NOT_FOUND: { status: 404, message: 'no such CoAP resource; readings go to POST /telemetry/{deviceId}' },
  FL_ERR_COAP_METHOD: { status: 405, message: 'method not allowed; the telemetry resource takes POST' },
  FL_ERR_COAP_CONTENT_FORMAT: { status: 415, message: 'content-format must be 50 (application/json) or 60 (application/cbor)' },
  FL_ERR_COAP_BAD_OPTION: { status: 400, message: 'the request carries a CoAP option this gateway cannot honour' },
  FL_ERR_COAP_PROXYING: { status: 502, message: 'this gateway is not a CoAP proxy' },
  FL_ERR_MODBUS_TIMEOUT: { status: 504, message: 'the Modbus device did not answer within its timeout' },
  FL_ERR_MODBUS_CRC: { status: 502, message: 'the Modbus answer failed its CRC check (noise or wiring on the serial line)' },
  FL_ERR_MODBUS_EXCEPTION: { status: 502, message: 'the Modbus device answered with an exception response' },
  FL_ERR_MODBUS_PROTOCOL: { status: 502, message: 'the Modbus answer was malformed (wrong length, slave or function)' },
  FL_ERR_MODBUS_UNREACHABLE: { status: 503, message: 'the Modbus bus is not open (serial port or TCP connection unavailable)' },
  FL_ERR_MODBUS_DISABLED: { status: 503, message: 'Modbus is not enabled on this gateway (modbus.enabled)' },
  FL_ERR_MODBUS_UNKNOWN_BUS: { status: 404, message: 'no Modbus bus by that name is configured' },
  FL_ERR_MODBUS_BUSY: { status: 429, message: 'too many manual Modbus requests wait on this bus; retry when they have finished' },
  FL_ERR_MODBUS_SCAN_RUNNING: { status: 409, message: 'a scan is already running on this line; wait for it or cancel it (DELETE /modbus/scans/{id})' },
  FL_ERR_MODBUS_PORT_OWNED: { status: 409, message: 'a configured bus owns this serial port; scan or read it through that bus ("bus": NAME) so its polls and the port are not disturbed' },
  FL_ERR_MODBUS_TEMPLATE_INVALID: { status: 500, message: 'a register-map template file is not valid' },
  FL_ERR_OUTBOX_FULL: { status: 503, message: 'the outbox is at its size bound (outbox.onFull: refuse-new); nothing is acknowledged until the cloud takes readings' },
  FL_ERR_OUTBOX_DISK_FULL: { status: 507, message: 'the data filesystem is below outbox.minFreeBytes or full; nothing is acknowledged until space is freed' },
  FL_ERR_CONFIG_NO_FILE: { status: 409, message: 'the gateway was started without --config, so there is no config file to change; start it with --config FILE' },
  FL_ERR_CONFIG_APPLY: { status: 500, message: 'a changed setting is in the file but could not be applied to the running gateway' },
  FL_ERR_CONFIG_WRITE: { status: 500, message: 'the config file could not be written; it is unchanged' },
  FL_ERR_CONFIG_NOT_PEM: { status: 400, message: 'expected PEM text (-----BEGIN …----- … -----END …-----)' },
  FL_ERR_CONFIG_FILE_NAME: { status: 400, message: 'a file name must be 1-100 characters of a-z 0-9 . _ - and start with a letter or digit' },
  // Config from the cloud (cloud-config/): in the heartbeat's config_error and on /status, never an HTTP answer.
  FL_ERR_CONFIG_CLOUD_INVALID: { status: 400, message: 'a config version from the cloud fails the same checks as the config file; it was not applied' },
  FL_ERR_CONFIG_CLOUD_FAILED: { status: 500, message: 'a config version from the cloud could not be applied; the previous config was put back' },
  FL_ERR_CONFIG_CLOUD_CONFLICT: { status: 409, message: 'the config was changed on site after this cloud version was issued; the local config is kept until the cloud issues a newer one' },
  FL_ERR_CONFIG_CLOUD_MESSAGE: { status: 400, message: 'a message on the config topic is not a config for this gateway; it was skipped' },
  FL_ERR_CONFIG_CLOUD_TOPIC: { status: 503, message: 'the config topic cannot be read; the gateway keeps its config and keeps trying' },
  // fieldline-gateway outbox export / status (cli/outbox.ts, cli/status.ts).
  FL_ERR_OUTBOX_MISSING: { status: 404, message: 'no outbox file at the configured path (check --config and dataDir; the gateway creates it at its first start)' },
  FL_ERR_OUTBOX_DAMAGED: { status: 500, message: 'the outbox file fails its integrity check; nothing was exported (start the gateway: it moves the file aside)' },
  FL_ERR_OUTBOX_EXPORT_WRITE: { status: 507, message: 'the export file could not be written (stick full, read-only or pulled?); no file was left under its name' },
  FL_ERR_OUTBOX_EVICTED: { status: 410, message: 'evicted from the outbox at its size bound (outbox.onFull: drop-oldest) before it reached the cloud' },
  FL_ERR_PKI_NO_CA: { status: 404, message: 'the gateway has no device CA yet; `fieldline-gateway device add` or provisioning creates it under <dataDir>/pki' },
  FL_ERR_PKI_DAMAGED: { status: 500, message: 'a file of the gateway CA under <dataDir>/pki is missing or unreadable' },
  FL_ERR_PKI_LOCKED: { status: 409, message: 'another device command is changing the certificate index; retry when it has finished' },
  FL_ERR_PKI_ALREADY_ENROLLED: { status: 409, message: 'the device already holds a valid certificate; pass --renew to issue another, or revoke it first' },
  FL_ERR_PKI_NOT_ENROLLED: { status: 404, message: 'no certificate of this gateway CA was issued to that device' },
  // The gateway's clock (gateway/src/clock). The last three are not refusals: the reading is kept and
  // delivered at the time shown, and the code travels with it (Reading.time_flag) to the cloud.
  FL_ERR_CLOCK_FILE: { status: 500, message: 'the test clock file (clock.file) is missing or not {"offsetMs": number, "synced": boolean, "bootId"?: string}' },
  FL_ERR_CLOCK_REBOOTED: { status: 422, message: 'stamped by the gateway on an unsynchronised clock, and the gateway rebooted before the clock was trusted: the time is the untrusted wall time' },
  FL_ERR_CLOCK_UNSYNCED: { status: 422, message: 'stamped by the gateway on an unsynchronised clock that was not trusted within clock.holdUnsyncedMs: the time is the untrusted wall time' },
  FL_ERR_CLOCK_UNCORRECTABLE: { status: 422, message: 'stamped by the gateway on an unsynchronised clock with a monotonic time that cannot be right: the time is the untrusted wall time' },
  FL_ERR_PKI_BAD_ARGUMENT: { status: 400, message: 'bad device command argument' },
  // Commands from the cloud (commands/*): the reason a command ends failed or expired on iot.command-status.
  FL_ERR_COMMAND_MALFORMED: { status: 400, message: 'the command message is not the iot.commands JSON shape (id, gateway_id, device_id, name, created_ms, expires_ms)' },
  FL_ERR_COMMAND_UNKNOWN_DEVICE: { status: 404, message: 'this gateway does not know the device the command is for' },
  FL_ERR_COMMAND_EXPIRED: { status: 410, message: 'the command was past its expiry (by the gateway clock) before it could be handed to the device; not delivered' },
  FL_ERR_COMMAND_UNKNOWN_TAG: { status: 404, message: 'the device\'s register map has no tag by that name' },
  FL_ERR_COMMAND_NOT_WRITABLE: { status: 403, message: 'the tag is not writable (register map: writable: true, on a coil or holding register tag)' },
  FL_ERR_COMMAND_BAD_VALUE: { status: 400, message: 'the value does not fit the tag (a boolean for a coil, a number for a register, no more items than consecutive writable tags)' },
  FL_ERR_COMMAND_OUT_OF_RANGE: { status: 400, message: 'the value is outside the tag\'s min/max or what its register type can hold' },
  FL_ERR_COMMAND_REJECTED: { status: 502, message: 'the device answered the command with ok: false' },
  FL_ERR_COMMAND_UNCONFIRMED: { status: 504, message: 'the command was handed to the device\'s connection but no PUBACK came before it expired; it is not sent again (at most once)' },
  FL_ERR_COMMAND_INTERRUPTED: { status: 500, message: 'the gateway stopped while handing the command to the device; it is not sent again (at most once)' },
});

export const catalogue = gateway.catalogue;
export type ErrorCode = keyof typeof catalogue;

/** Every refusal the gateway throws; `code` is one of the catalogue above. */
export class GatewayError extends gateway.ErrorClass {}
