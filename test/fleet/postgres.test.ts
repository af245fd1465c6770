// The fleet behaviour suite on a real PostgreSQL 15 without TimescaleDB: gateway_heartbeats a plain
// table, readings_1m the table the sink keeps.
import { after, before, describe } from 'node:test';
import { openPostgres } from '../../cloud-sink/src/store/db.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { fleetBehaviour } from './fleet.behaviour.js';

describe('fleet on PostgreSQL 15', () => {
  let server: PgServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.destroy();
  });

  fleetBehaviour({
    name: 'vanilla PostgreSQL 15',
    open: async () => openPostgres(await server.createDatabase('fleet'), 4),
    continuousAggregates: false,
  });
});
