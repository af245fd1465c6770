// Acceptance 2 of issue 12 on a real PostgreSQL 15 server (no TimescaleDB): the sink's own rollup
// tables, and retention done as an operator's job would do it on such a server (DELETE).
import { openPostgres } from '../../cloud-sink/src/store/db.js';
import { retentionCutoffMs } from '../../cloud-sink/src/store/aggregates.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { aggregatesAcceptance, RETENTION } from './aggregates.behaviour.js';

let server: PgServer | undefined;

aggregatesAcceptance({
  name: 'PostgreSQL 15',
  async open() {
    server = await startPostgres();
    return openPostgres(server.url, 4);
  },
  async drop(store, nowMs) {
    const cut = (interval: string | null) => new Date(retentionCutoffMs(nowMs, interval));
    await store.db.query('DELETE FROM readings WHERE ts < $1', [cut(RETENTION.readings)]);
    await store.db.query('DELETE FROM readings_1m WHERE bucket < $1', [cut(RETENTION.readings_1m)]);
    await store.db.query('DELETE FROM readings_1h WHERE bucket < $1', [cut(RETENTION.readings_1h)]);
  },
  async close() {
    await server?.destroy();
  },
});
