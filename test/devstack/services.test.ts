/**
 * The real-service helpers themselves: each server starts, serves, survives a stop/start with its
 * data, and is really gone after destroy(). Everything else that talks to Kafka or PostgreSQL in
 * the tests stands on these.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { startKafka } from '../../devstack/kafka.js';
import { run, runOk, waitForPort } from '../../devstack/net.js';
import { startPostgres } from '../../devstack/postgres.js';

async function listening(port: number): Promise<boolean> {
  return waitForPort(port, '127.0.0.1', 0).then(
    () => true,
    () => false,
  );
}

async function produce(bootstrap: string, topic: string, lines: string[]): Promise<void> {
  await runOk('kcat', ['-P', '-b', bootstrap, '-t', topic, '-K', ':'], { input: `${lines.join('\n')}\n`, timeoutMs: 30_000 });
}

/** Every message in the topic, as sorted "key=value" strings. */
async function consumeAll(bootstrap: string, topic: string): Promise<string[]> {
  const { stdout } = await runOk('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-X', 'fetch.wait.max.ms=20', '-f', '%k=%s\n'], {
    timeoutMs: 30_000,
  });
  return stdout.split('\n').filter((line) => line !== '').sort();
}

test('a real Kafka broker serves a created topic, keeps its messages across stop/start on the same port, and is gone after destroy', { timeout: 180_000 }, async (t) => {
  const broker = await startKafka();
  t.after(() => broker.destroy());
  assert.equal(broker.bootstrap, `127.0.0.1:${broker.port}`);

  await broker.createTopics([{ name: 'support.check', partitions: 2 }, { name: 'support.compacted', partitions: 1, config: { 'cleanup.policy': 'compact' } }]);
  const metadata = JSON.parse((await runOk('kcat', ['-L', '-J', '-b', broker.bootstrap, '-t', 'support.check'])).stdout) as {
    topics: Array<{ topic: string; partitions: Array<{ leader: number }> }>;
  };
  assert.equal(metadata.topics[0]?.partitions.length, 2, 'support.check has the 2 partitions asked for');

  await produce(broker.bootstrap, 'support.check', ['gw-1:before-restart']);
  assert.deepEqual(await consumeAll(broker.bootstrap, 'support.check'), ['gw-1=before-restart']);

  await broker.stop();
  assert.equal(await listening(broker.port), false, 'nothing listens on the broker port while stopped');
  assert.notEqual((await run('kcat', ['-L', '-b', broker.bootstrap, '-m', '1'])).code, 0, 'metadata requests fail while stopped');

  await broker.start();
  assert.equal(await listening(broker.port), true, 'the broker is back on the same port');
  await produce(broker.bootstrap, 'support.check', ['gw-1:after-restart']);
  assert.deepEqual(await consumeAll(broker.bootstrap, 'support.check'), ['gw-1=after-restart', 'gw-1=before-restart']);

  await broker.destroy();
  assert.equal(await listening(broker.port), false, 'the broker is gone after destroy');
  assert.equal(existsSync(broker.dataDir), false, 'its data dir is removed');
});

test('a real PostgreSQL answers on its URL, keeps committed rows across stop/start, creates databases, and is gone after destroy', { timeout: 120_000 }, async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.destroy());
  assert.equal(pg.url, `postgres://postgres@127.0.0.1:${pg.port}/fieldline`);

  const viaUrl = async (url: string, sql: string): Promise<string> =>
    (await runOk('/usr/bin/psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', url, '-c', sql])).stdout.trim();
  assert.equal(await viaUrl(pg.url, 'select 1'), '1');
  assert.equal(await viaUrl(pg.url, 'select current_database()'), 'fieldline');
  assert.match(await viaUrl(pg.url, 'show server_version'), /^15\./);

  await pg.psql('create table kept (id int primary key, note text); insert into kept values (1, $$survives restart$$)', 'fieldline');
  await pg.stop();
  assert.equal(await listening(pg.port), false, 'nothing listens on the port while stopped');
  assert.notEqual((await run('/usr/bin/psql', ['-X', '-A', '-t', pg.url, '-c', 'select 1'])).code, 0, 'queries fail while stopped');

  await pg.start();
  assert.equal(await viaUrl(pg.url, 'select 1'), '1');
  assert.equal(await viaUrl(pg.url, 'select note from kept where id = 1'), 'survives restart');

  const otherUrl = await pg.createDatabase('support_other');
  assert.equal(otherUrl, `postgres://postgres@127.0.0.1:${pg.port}/support_other`);
  assert.equal(await viaUrl(otherUrl, 'select current_database()'), 'support_other');
  await assert.rejects(pg.createDatabase('bad-name; drop'), /not a plain identifier/);

  await pg.destroy();
  assert.equal(await listening(pg.port), false, 'the server is gone after destroy');
  assert.equal(existsSync(pg.dir), false, 'its temp dir is removed');
});
