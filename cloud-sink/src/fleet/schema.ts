// The fleet workers' tables (issue 10), as migrations the main list in store/schema.ts includes.
// Versions 20 and up are this module's, so the store's own numbering can grow below them.
//
// This module imports only types from store/schema.ts: store/schema.ts imports FLEET_MIGRATIONS to
// build its list at load time, and a value import back would make that list depend on which of the
// two modules a program happened to load first.
import type { DbTx } from '../store/db.js';
import type { Migration } from '../store/schema.js';

/** The database's shape as migration 1 and 2 recorded it (store/schema.ts readCapabilities). */
async function shape(tx: DbTx): Promise<{ timescaledb: boolean; continuousAggregates: boolean }> {
  const r = await tx.query<{ ts: boolean | null; cagg: boolean | null }>(
    `SELECT (value->>'timescaledb')::boolean AS ts, (value->>'continuousAggregates')::boolean AS cagg
       FROM fieldline_meta WHERE key = 'capabilities'`,
  );
  return { timescaledb: r.rows[0]?.ts === true, continuousAggregates: r.rows[0]?.cagg === true };
}

export const FLEET_MIGRATIONS: readonly Migration[] = [
  {
    version: 20,
    name: 'gateway health from heartbeats: latest state in gateways, history in gateway_heartbeats',
    async up(tx) {
      // A gateway heard of only through heartbeats has no batch yet: last_seq stays NULL until one.
      await tx.query(`ALTER TABLE gateways ALTER COLUMN last_seq DROP NOT NULL`);
      // The newest heartbeat by the gateway's own time; NULL columns until the first heartbeat.
      await tx.query(`
        ALTER TABLE gateways
          ADD COLUMN last_heartbeat_at     timestamptz,
          ADD COLUMN heartbeat_received_at timestamptz,
          ADD COLUMN firmware              text,
          ADD COLUMN uptime_s              double precision,
          ADD COLUMN cpu_percent           double precision,
          ADD COLUMN memory_used_bytes     double precision,
          ADD COLUMN memory_total_bytes    double precision,
          ADD COLUMN disk_free_bytes       double precision,
          ADD COLUMN disk_total_bytes      double precision,
          ADD COLUMN temperature_c         double precision,
          ADD COLUMN outbox_depth          bigint,
          ADD COLUMN outbox_oldest_age_ms  bigint,
          ADD COLUMN outbox_bytes          bigint,
          ADD COLUMN outbox_full           text,
          ADD COLUMN outbox_recovered      text,
          ADD COLUMN drain_sent_per_s      double precision,
          ADD COLUMN drain_in_per_s        double precision,
          ADD COLUMN drain_eta_s           double precision,
          ADD COLUMN adapters              jsonb,
          ADD COLUMN loss                  jsonb,
          ADD COLUMN refusals              jsonb`);
      await tx.query(`
        CREATE TABLE gateway_heartbeats (
          ts                   timestamptz      NOT NULL,
          gateway_id           text             NOT NULL,
          received_at          timestamptz      NOT NULL,
          firmware             text             NOT NULL,
          uptime_s             double precision NOT NULL,
          cpu_percent          double precision NOT NULL,
          memory_used_bytes    double precision NOT NULL,
          memory_total_bytes   double precision NOT NULL,
          disk_free_bytes      double precision NOT NULL,
          disk_total_bytes     double precision NOT NULL,
          temperature_c        double precision,
          outbox_depth         bigint           NOT NULL,
          outbox_oldest_age_ms bigint           NOT NULL,
          outbox_bytes         bigint           NOT NULL,
          outbox_full          text,
          outbox_recovered     text,
          drain_sent_per_s     double precision NOT NULL,
          drain_in_per_s       double precision NOT NULL,
          drain_eta_s          double precision,
          adapters             jsonb            NOT NULL,
          loss                 jsonb            NOT NULL,
          refusals             jsonb            NOT NULL,
          PRIMARY KEY (gateway_id, ts)
        )`);
      // The key serves "one gateway's history by time" on both shapes; a hypertable's unique keys
      // must hold its time column, which this one does.
      if ((await shape(tx)).timescaledb) {
        await tx.query(`SELECT create_hypertable('gateway_heartbeats', 'ts', chunk_time_interval => INTERVAL '1 day')`);
      }
    },
  },
  {
    version: 21,
    name: 'quarantine: readings gateways refused, from iot.quarantine',
    async up(tx) {
      // The Kafka position is the key, so a replayed message is the row already there.
      await tx.query(`
        CREATE TABLE quarantine (
          kafka_topic     text        NOT NULL,
          kafka_partition integer     NOT NULL,
          kafka_offset    bigint      NOT NULL,
          gateway_id      text        NOT NULL,
          device_id       text,
          ts              timestamptz,
          received_at     timestamptz NOT NULL,
          source          text,
          reason_code     text        NOT NULL,
          reason          text        NOT NULL,
          topic           text,
          raw             bytea       NOT NULL,
          PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset)
        )`);
      await tx.query(`CREATE INDEX quarantine_gateway_ts ON quarantine (gateway_id, ts DESC NULLS LAST)`);
      await tx.query(`CREATE INDEX quarantine_device_ts ON quarantine (device_id, ts DESC NULLS LAST) WHERE device_id IS NOT NULL`);
    },
  },
  {
    version: 22,
    name: 'per-minute aggregates publishing: progress watermark, late minutes to correct',
    async up(tx) {
      await tx.query(`
        CREATE TABLE aggregate_progress (
          stream       text        PRIMARY KEY,
          published_to timestamptz NOT NULL,
          updated_at   timestamptz NOT NULL DEFAULT now()
        )`);
      // gen changes whenever a minute is noted again, so the publisher deletes only the notes it
      // read: one noted while it was publishing survives for the next run.
      await tx.query(`CREATE SEQUENCE aggregate_late_gen`);
      await tx.query(`
        CREATE TABLE aggregate_late (
          device_id text        NOT NULL,
          metric    text        NOT NULL,
          bucket    timestamptz NOT NULL,
          gen       bigint      NOT NULL DEFAULT nextval('aggregate_late_gen'),
          noted_at  timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (device_id, metric, bucket)
        )`);
      await tx.query(`CREATE INDEX aggregate_late_bucket ON aggregate_late (bucket)`);
      // The publisher reads readings_1m by bucket range. A continuous aggregate is partitioned by
      // bucket already; the sink's plain table is keyed by device first and needs this index.
      if (!(await shape(tx)).continuousAggregates) {
        await tx.query(`CREATE INDEX readings_1m_bucket ON readings_1m (bucket)`);
      }
    },
  },
  {
    version: 23,
    name: 'fleet health: heartbeat interval and delayed flag, devices.expected_interval_ms',
    async up(tx) {
      // NULL interval: the gateway did not say (interval_ms 0, before proto revision 2); the health
      // check then assumes fleet.health.defaultIntervalMs.
      await tx.query(`
        ALTER TABLE gateways
          ADD COLUMN heartbeat_interval_ms bigint,
          ADD COLUMN heartbeat_delayed     boolean`);
      await tx.query(`
        ALTER TABLE gateway_heartbeats
          ADD COLUMN interval_ms bigint,
          ADD COLUMN delayed     boolean NOT NULL DEFAULT false`);
      // How often the device is meant to send each of its metrics; NULL: judge it by its observed
      // rate. Set by an operator (PATCH /v1/devices/{id}), never by the sink.
      await tx.query(`ALTER TABLE devices ADD COLUMN expected_interval_ms bigint CHECK (expected_interval_ms > 0)`);
    },
  },
];
