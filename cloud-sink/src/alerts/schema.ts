// The alerting tables (issue 11), as migrations the main list in store/schema.ts includes. Versions
// 30 and up are this module's. Like fleet/schema.ts it imports only types from store/schema.ts.
import type { DbTx } from '../store/db.js';
import type { Migration } from '../store/schema.js';

async function create(tx: DbTx, ...statements: string[]): Promise<void> {
  for (const s of statements) await tx.query(s);
}

export const ALERT_MIGRATIONS: readonly Migration[] = [
  {
    version: 30,
    name: 'alerting: rules with versions, alerts with one open per rule and target, the event outbox, webhook queue, evaluator checkpoints',
    async up(tx) {
      // alert_rules.rule holds the API's rule object. `version` orders changes on iot.rules (the
      // evaluator keeps the newest per id); published_version says which one Kafka has, so a
      // change whose publish failed is sent again. A deleted rule stays as a row until published.
      await create(
        tx,
        `ALTER TABLE alert_rules
           ADD COLUMN version           bigint      NOT NULL DEFAULT 1,
           ADD COLUMN published_version bigint      NOT NULL DEFAULT 0,
           ADD COLUMN deleted_at        timestamptz`,
        // Issue 5's placeholder was never written to; this is its real shape.
        `DROP TABLE alerts`,
        // started_at / resolved_at are the readings' own times (event time); raised_at and
        // updated_at the cloud's. `late` marks an alert raised from a backlog drained after the
        // fact, so an operator is not paged for something that ended hours ago without knowing it.
        `CREATE TABLE alerts (
           id            text             PRIMARY KEY,
           rule_id       text             NOT NULL,
           target_key    text             NOT NULL,
           gateway_id    text,
           device_id     text,
           metric        text,
           state         text             NOT NULL CHECK (state IN ('firing', 'resolved')),
           severity      text             NOT NULL,
           value         double precision,
           message       text             NOT NULL,
           started_at    timestamptz      NOT NULL,
           raised_at     timestamptz      NOT NULL,
           late          boolean          NOT NULL DEFAULT false,
           resolved_at   timestamptz,
           resolved_late boolean,
           acked_by      text,
           acked_at      timestamptz,
           updated_at    timestamptz      NOT NULL DEFAULT now()
         )`,
        // The guarantee "one open alert per rule and target", held by the database itself, across
        // evaluator restarts, redelivery and rebalances.
        `CREATE UNIQUE INDEX alerts_one_open ON alerts (rule_id, target_key) WHERE state = 'firing'`,
        `CREATE INDEX alerts_state_started ON alerts (state, started_at DESC)`,
        `CREATE INDEX alerts_rule ON alerts (rule_id)`,
        // The transactional outbox of alert events: written with the change it describes, then
        // published to iot.alerts in seq order by the relay (alerts/relay.ts).
        `CREATE TABLE alert_events (
           seq          bigserial   PRIMARY KEY,
           event_id     text        NOT NULL UNIQUE,
           alert_id     text        NOT NULL,
           rule_id      text        NOT NULL,
           type         text        NOT NULL CHECK (type IN ('firing', 'resolved', 'acknowledged')),
           payload      jsonb       NOT NULL,
           created_at   timestamptz NOT NULL DEFAULT now(),
           published_at timestamptz
         )`,
        `CREATE INDEX alert_events_unpublished ON alert_events (seq) WHERE published_at IS NULL`,
        // The durable webhook queue: one row per event and receiver, written in the same
        // transaction as the event. `body` is the exact bytes that are signed and sent.
        `CREATE TABLE webhook_deliveries (
           event_id        text        NOT NULL,
           rule_id         text        NOT NULL,
           url             text        NOT NULL,
           secret          text,
           body            text        NOT NULL,
           attempts        integer     NOT NULL DEFAULT 0,
           next_attempt_at timestamptz NOT NULL DEFAULT now(),
           created_at      timestamptz NOT NULL DEFAULT now(),
           delivered_at    timestamptz,
           gave_up_at      timestamptz,
           last_status     integer,
           last_error      text,
           PRIMARY KEY (event_id, url)
         )`,
        `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL`,
        // The evaluator's checkpoints: per consumer group and Kafka partition, the next offset the
        // state below reflects, written in one transaction with that state and the alerts it
        // changed. This, not Kafka's committed offset, is where a restarted evaluator resumes.
        `CREATE TABLE evaluator_offsets (
           grp         text        NOT NULL,
           topic       text        NOT NULL,
           partition   integer     NOT NULL,
           next_offset bigint      NOT NULL,
           updated_at  timestamptz NOT NULL DEFAULT now(),
           PRIMARY KEY (grp, topic, partition)
         )`,
        // Per partition number (the evaluator's topics are co-partitioned by gateway id): what it
        // remembers per rule and series — hysteresis, for-duration, windows, baselines, links.
        `CREATE TABLE evaluator_state (
           grp       text  NOT NULL,
           partition integer NOT NULL,
           key       text  NOT NULL,
           state     jsonb NOT NULL,
           PRIMARY KEY (grp, partition, key)
         )`,
      );
    },
  },
];
