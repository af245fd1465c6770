// The commands behaviour suite on a real PostgreSQL 15, with a second pool on the same database so
// the two sweepers and the two consumers really run at once, on their own connections.
import { after, before, describe } from 'node:test';
import { openPostgres } from '../../cloud-sink/src/store/db.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { commandsBehaviour } from './commands.behaviour.js';

describe('commands on PostgreSQL 15', () => {
  let server: PgServer;
  let url = '';
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.destroy();
  });

  commandsBehaviour({
    name: 'vanilla PostgreSQL 15',
    open: async () => {
      url = await server.createDatabase('commands');
      return openPostgres(url, 4);
    },
    openSecond: async () => openPostgres(url, 4),
  });
});
