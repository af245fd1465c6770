// Migration 5: the versions of each gateway's config the cloud issued (PUT /v1/gateways/{id}/config),
// and the config state gateways report in their heartbeats (telemetry.proto fields 26-30).
//
// It sits last in store/schema.ts's list although its number is low: it adds columns to
// gateway_heartbeats, which migration 20 creates, and migrations run in list order.
import type { Migration } from '../store/schema.js';

const HEARTBEAT_CONFIG_COLUMNS = `
  ADD COLUMN config_version      bigint,
  ADD COLUMN config_seen_version bigint,
  ADD COLUMN config_source       text,
  ADD COLUMN config_error        text,
  ADD COLUMN config_conflict     text`;

export const GATEWAY_CONFIG_MIGRATIONS: readonly Migration[] = [
  {
    version: 5,
    name: 'gateway configs from the cloud: versions issued, and what the heartbeats say of them',
    async up(tx) {
      // The database numbers versions per gateway; published_at stays NULL until Kafka confirmed the
      // version (or a newer one, which supersedes it on the compacted topic).
      await tx.query(`
        CREATE TABLE gateway_configs (
          gateway_id   text        NOT NULL,
          version      bigint      NOT NULL CHECK (version > 0),
          section      text,
          config       jsonb       NOT NULL,
          issued_at    timestamptz NOT NULL,
          issued_by    text        NOT NULL,
          published_at timestamptz,
          PRIMARY KEY (gateway_id, version)
        )`);
      await tx.query(`CREATE INDEX gateway_configs_unpublished ON gateway_configs (gateway_id) WHERE published_at IS NULL`);
      await tx.query(`ALTER TABLE gateways ${HEARTBEAT_CONFIG_COLUMNS}`);
      await tx.query(`ALTER TABLE gateway_heartbeats ${HEARTBEAT_CONFIG_COLUMNS}`);
    },
  },
];
