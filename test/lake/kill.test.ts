// kill -9 of lake writers mid-stream (issue 10, "Parquet lake"): two `fieldline-cloud lake`
// processes share one lake folder and one consumer group while batches stream in; each is killed
// with SIGKILL in turn and started again. Afterwards every file is read with DuckDB and pyarrow:
// each reading is there exactly once, and no two files' offset ranges overlap.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { removeOnExit } from '../../devstack/net.js';
import { killMidStream } from './kill-support.js';
import { lakeFiles } from './support.js';

let kafka: KafkaBroker;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-lake-kill-'));
  removeOnExit(dir);
  kafka = await startKafka({ logDir: dir });
});

after(async () => {
  await kafka?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

it('two lake processes killed with SIGKILL three times mid-stream (once between the renames of a range and its commit) and restarted leave every reading in exactly one file (DuckDB and pyarrow)', { timeout: 480_000 }, async () => {
  const lakeDir = join(dir, 'lake');
  const result = await killMidStream({
    kafka, dir, topic: 'lake-kill', lake: { dir: lakeDir },
    countFiles: async () => lakeFiles(lakeDir).length,
    localCopy: async () => lakeDir,
  });
  assert.equal(result.kills, 3);
  assert.ok(result.readings >= 50_000, `${result.readings} readings streamed`);
  console.log(`kill -9 x${result.kills}: ${result.readings} readings in ${result.files} files, ${result.replayed} ranges replayed from manifests`);
});
