// Issue 10, acceptance 2, with the lake in a folder: two `fieldline-cloud sink` processes (into
// PostgreSQL 15) and two `fieldline-cloud lake` processes share a 6-partition topic while 200,000
// readings stream in; lake writers and a sink are killed with SIGKILL and started again.
// Afterwards the database holds each reading once, and every file read with DuckDB and with
// pyarrow holds each reading once, with no two files' offset ranges overlapping.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { removeOnExit } from '../../devstack/net.js';
import { killMidStream } from './kill-support.js';
import { lakeFiles } from './support.js';

let kafka: KafkaBroker;
let pg: PgServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-lake-kill-'));
  removeOnExit(dir);
  kafka = await startKafka({ logDir: dir });
  pg = await startPostgres({ logDir: dir });
});

after(async () => {
  await kafka?.destroy();
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

it('two sinks and two lakes on a 6-partition topic, a sink and the lakes killed with SIGKILL mid-stream (once between the renames of a range and its commit) and restarted: 200,000 readings each once in PostgreSQL and in exactly one lake file (DuckDB and pyarrow)', { timeout: 480_000 }, async () => {
  const lakeDir = join(dir, 'lake');
  const result = await killMidStream({
    kafka, dir, logDir: dir, databaseUrl: await pg.createDatabase('lake_kill'), topic: 'lake-kill', lake: { dir: lakeDir },
    countFiles: async () => lakeFiles(lakeDir).length,
    localCopy: async () => lakeDir,
  });
  assert.equal(result.kills, 3);
  assert.equal(result.readings, 200_000, 'the stream was 200,000 readings');
  assert.equal(result.databaseRows, 200_000, 'the database holds 200,000 rows');
  console.log(`kill -9 x${result.kills}: ${result.readings} readings in ${result.files} files, ${result.replayed} ranges replayed from manifests`);
});
