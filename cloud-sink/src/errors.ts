// The cloud package's error catalogue (CONVENTIONS point 4): every error a caller can see has a
// stable code FL_ERR_<AREA>_<WHAT>, a message and the HTTP status the API answers with. Add a
// code here before throwing it; the catalogue is the documentation.
import { defineCatalogue } from '../../common/src/errors.js';

export { FieldlineError } from '../../common/src/errors.js';

const cloud = defineCatalogue({
  FL_ERR_API_BAD_CURSOR: { message: 'the cursor is not one this API issued', status: 400 },
  FL_ERR_API_BAD_QUERY: { message: 'the query is out of range', status: 400 },
  FL_ERR_API_BAD_PARAM: { message: 'a query parameter is invalid', status: 400 },
  FL_ERR_API_BAD_REQUEST: { message: 'the request is malformed', status: 400 },
  FL_ERR_API_DEVICE_NOT_FOUND: { message: 'no such device', status: 404 },
  FL_ERR_API_GATEWAY_NOT_FOUND: { message: 'no such gateway', status: 404 },
  FL_ERR_API_NOT_FOUND: { message: 'no such route', status: 404 },
  FL_ERR_API_RANGE_TOO_LARGE: { message: 'the range is too large for this query; narrow it or take a wider bucket', status: 400 },
  FL_ERR_AUTH_MISSING: { message: 'a bearer token is required', status: 401 },
  FL_ERR_AUTH_INVALID: { message: 'the bearer token is not valid', status: 401 },
  FL_ERR_AUTH_SCOPE: { message: 'the token lacks the scope this needs', status: 403 },
  FL_ERR_AUTH_KEYS_UNAVAILABLE: { message: "the identity provider's key set (api.auth.jwksUrl) cannot be read; try again later", status: 503 },
  FL_ERR_API_RATE_LIMITED: { message: 'too many requests for this token; wait for Retry-After seconds', status: 429 },
  FL_ERR_API_UNAVAILABLE: { message: 'the API cannot answer now (database unreachable or process overloaded); wait for Retry-After seconds', status: 503 },
  FL_ERR_API_INTERNAL: { message: 'internal error', status: 500 },
  FL_ERR_STORE_UNAVAILABLE: { message: 'the database is unavailable', status: 503 },
  FL_ERR_STORE_BAD_BATCH: { message: 'the database refused a batch; retrying it cannot succeed', status: 400 },
  FL_ERR_STORE_SCHEMA_TOO_NEW: { message: 'the database schema is newer than this program', status: 500 },
  FL_ERR_LAKE_WRITE: { message: 'a lake file could not be written; the range is retried with its offsets held', status: 503 },
  FL_ERR_LAKE_MANIFEST_BAD: { message: 'a lake range manifest is unreadable; the partition waits until it is repaired', status: 500 },
  FL_ERR_LAKE_OFFSET_GAP: { message: 'Kafka skipped offsets the lake expected; the consumer fetches again from the committed offset', status: 500 },
  FL_ERR_LAKE_CONDITIONAL_PUT: { message: 'the object store does not honour If-None-Match on PutObject', status: 500 },
  FL_ERR_LAKE_READ: { message: 'the lake could not be read', status: 503 },
  // The sink's sanity checks (consume/sanity.ts): each sends the whole batch to the DLQ. Never an
  // HTTP answer; the code goes in the DLQ message's `error` header.
  FL_ERR_SINK_GATEWAY_ID: { message: 'the gateway id is too long or holds control characters', status: 400 },
  FL_ERR_SINK_EMPTY_BATCH: { message: 'the batch holds no readings', status: 400 },
  FL_ERR_SINK_TOO_MANY_READINGS: { message: 'the batch holds more readings than sink.maxReadingsPerBatch', status: 400 },
  FL_ERR_SINK_TIME_TOO_EARLY: { message: 'a reading is stamped before sink.earliestReadingTime', status: 400 },
  FL_ERR_SINK_TIME_FLAG: { message: 'a reading carries a time_flag that is empty of sense: too long or with control characters', status: 400 },
  FL_ERR_SINK_TIME_AHEAD: { message: "a reading is stamped further ahead of the cloud's clock than sink.maxFutureSkewMs", status: 400 },
  FL_ERR_SINK_DEVICE_ID: { message: 'a device id is empty, too long or holds control characters', status: 400 },
  FL_ERR_SINK_METRIC_NAME: { message: 'a metric name is empty, too long or holds control characters', status: 400 },
  FL_ERR_SINK_VALUE: { message: 'a value is not a finite number within ±1e300', status: 400 },
  // fieldline-cloud dlq replay (consume/dlq-replay.ts).
  FL_ERR_DLQ_DELIVERY: { message: 'Kafka did not confirm a replayed message; its DLQ offset stays uncommitted', status: 503 },
  FL_ERR_DLQ_COMMIT: { message: "the replay's progress was not committed; a second run would feed the same messages again", status: 503 },
  FL_ERR_DLQ_BUSY: { message: 'another member of the replay group holds DLQ partitions; run one replay at a time', status: 409 },
  // fieldline-cloud outbox import (cli/outbox.ts); a bad file is the wire catalogue's FL_ERR_WIRE_FILE_*.
  FL_ERR_IMPORT_KAFKA: { message: 'Kafka cannot be reached to import the outbox export; nothing was imported', status: 503 },
  FL_ERR_IMPORT_DELIVERY: { message: 'Kafka did not confirm an imported batch; run the import again (batches already stored are skipped)', status: 503 },
  // The fleet workers (fleet/): the first three go in a DLQ message's `error` header.
  FL_ERR_FLEET_BAD_HEARTBEAT: { message: 'the heartbeat names no gateway or carries no usable time', status: 400 },
  FL_ERR_FLEET_BAD_QUARANTINE: { message: 'the quarantined reading names no gateway', status: 400 },
  FL_ERR_FLEET_REFUSED: { message: 'the database refused a fleet record; retrying it cannot succeed', status: 400 },
  FL_ERR_FLEET_PUBLISH: { message: 'per-minute aggregates could not be published', status: 503 },
  // Alert rules and alerts through the API (api/alert-routes.ts, alerts/rules-publisher.ts).
  FL_ERR_API_BAD_RULE: { message: 'the rule is not valid', status: 400 },
  FL_ERR_API_RULE_NOT_FOUND: { message: 'no such rule', status: 404 },
  FL_ERR_API_RULE_CONFLICT: { message: 'the rule changed since the version the request names', status: 409 },
  FL_ERR_API_ALERT_NOT_FOUND: { message: 'no such alert', status: 404 },
  // Gateway configs from the cloud (api/gateway-config-routes.ts, gateway-config/).
  FL_ERR_API_BAD_CONFIG: { message: 'the gateway config is not valid; nothing was stored', status: 400 },
  FL_ERR_CONFIG_PUBLISH: { message: 'gateway config versions could not be published to the config topic; the sync retries them', status: 503 },
  // The dashboard's files (api/dashboard-routes.ts).
  FL_ERR_API_DASHBOARD_MISSING: { message: 'the dashboard is not built: run `npm run build` (it writes dist/dashboard)', status: 503 },
  // GET /v1/stream (api/stream.ts): answered before the upgrade, as plain HTTP.
  FL_ERR_API_UPGRADE_REQUIRED: { message: 'GET /v1/stream is a WebSocket: send the request with Upgrade: websocket', status: 426 },
  FL_ERR_API_STREAM_LIMIT: { message: 'this token holds as many live streams as api.stream.maxClientsPerToken allows', status: 429 },
  FL_ERR_API_STREAM_BUSY: { message: 'this API process serves as many live streams as api.stream.maxClients allows', status: 503 },
  // The rules topic (alerts/rules-publisher.ts, alerts/rules-table.ts): logged and on /healthz, never an HTTP answer.
  FL_ERR_RULES_PUBLISH: { message: 'rule changes could not be published to the rules topic; the sync retries them', status: 503 },
  FL_ERR_RULES_TOPIC: { message: 'the rules topic cannot be read', status: 503 },
  FL_ERR_RULES_BAD_MESSAGE: { message: 'a message on the rules topic is not a rule; it was skipped', status: 400 },
  // The alert evaluator (alerts/evaluator.ts): logged and on /healthz.
  FL_ERR_ALERTS_NOT_COPARTITIONED: { message: "the evaluator's topics differ in partition count, so a gateway's readings and heartbeats may meet in different evaluators; create them with the same count", status: 500 },
  // The alert pumps (alerts/relay.ts): the events stay in the outbox and are sent again.
  FL_ERR_ALERTS_PUBLISH: { message: 'alert events could not be published to Kafka; they stay in the outbox and are retried', status: 503 },
  // Device commands (api/command-routes.ts, commands/).
  FL_ERR_API_BAD_COMMAND: { message: 'the command is not valid', status: 400 },
  FL_ERR_API_COMMAND_NOT_FOUND: { message: 'no such command for this device', status: 404 },
  // Logged and on /healthz; the rows stay owed and the relay retries them.
  FL_ERR_COMMANDS_PUBLISH: { message: 'commands or their status events could not be published to Kafka; the relay retries them', status: 503 },
  // In a DLQ message's `error` header.
  FL_ERR_COMMANDS_BAD_STATUS: { message: 'a message on the command status topic is not a status event', status: 400 },
  // The `error` of a command the cloud expired (GET /v1/devices/{id}/commands, iot.command-status).
  FL_ERR_COMMANDS_EXPIRED: { message: 'the command expired before its gateway took it', status: 410 },
});

export const catalogue = cloud.catalogue;
export type ErrorCode = keyof typeof catalogue;

/** Every error the cloud package throws; `detail` is appended to the catalogued message: say which value was wrong and why. */
export class CloudError extends cloud.ErrorClass {}

/** Thrown by the store layer (cloud-sink/src/store); same catalogue, so the API maps it unchanged. */
export class StoreError extends CloudError {}
