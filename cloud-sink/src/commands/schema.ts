// The commands table (issue 15). The row is written before anything reaches Kafka, so the database
// is the truth about a command; sent_at and event_pending say what Kafka still lacks, and the
// relay (commands/relay.ts) keeps producing until it has it.
import type { Migration } from '../store/schema.js';

export const COMMAND_MIGRATIONS: readonly Migration[] = [
  {
    version: 6,
    name: 'device commands: one row per command, its status moved forward only',
    async up(tx) {
      await tx.query(`
        CREATE TABLE commands (
          id            text        PRIMARY KEY,
          device_id     text        NOT NULL,
          gateway_id    text        NOT NULL,
          name          text        NOT NULL,
          payload       jsonb,
          tag           text,
          value         jsonb,
          status        text        NOT NULL DEFAULT 'queued'
                                    CHECK (status IN ('queued', 'delivered', 'acknowledged', 'failed', 'expired')),
          error         text,
          created_by    text,
          created_at    timestamptz NOT NULL,
          updated_at    timestamptz NOT NULL,
          expires_at    timestamptz NOT NULL,
          -- When Kafka confirmed the command on the commands topic; null: the relay still owes it.
          sent_at       timestamptz,
          -- A status this cloud set (queued, expired) whose event the relay still owes.
          event_pending text        CHECK (event_pending IN ('queued', 'expired'))
        )`);
      await tx.query(`CREATE INDEX commands_device_created ON commands (device_id, created_at DESC, id)`);
      // The sweep's and the relay's work lists stay small whatever the history holds.
      await tx.query(`CREATE INDEX commands_queued_expiry ON commands (expires_at) WHERE status = 'queued'`);
      await tx.query(`CREATE INDEX commands_unpublished ON commands (created_at) WHERE (sent_at IS NULL AND status = 'queued') OR event_pending IS NOT NULL`);
    },
  },
];
