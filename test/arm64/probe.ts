// Run only by test/arm64/gateway-arm64.test.ts, under the arm64 node (the name does not end in
// .test.ts, so the x64 runner leaves it alone): proves the process really is arm64 and that every
// native addon the gateway loads is the arm64 build and works, not merely that a file is there.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Level } from 'level';

const require = createRequire(import.meta.url);

test('the test process runs on arm64', (t) => {
  t.diagnostic(`ARM64-PROBE arch=${process.arch} node=${process.version}`);
  assert.equal(process.arch, 'arm64');
});

test('better-sqlite3 (cross-compiled) opens a database in WAL mode and answers a query', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-arm64-sqlite-'));
  try {
    const db = new Database(join(dir, 'probe.db'));
    assert.equal(db.pragma('journal_mode = WAL', { simple: true }), 'wal');
    db.exec('create table t (v real)');
    db.prepare('insert into t values (?)').run(21.5);
    assert.deepEqual(db.prepare('select v from t').get(), { v: 21.5 });
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lz4 (cross-compiled) round-trips a block', () => {
  const lz4 = require('lz4') as { encode(b: Buffer): Buffer; decode(b: Buffer): Buffer };
  const input = Buffer.from('fieldline '.repeat(100));
  assert.deepEqual(lz4.decode(lz4.encode(input)), input);
});

test('node-rdkafka (cross-compiled with librdkafka) has TLS, SASL and zstd built in', () => {
  const kafka = require('node-rdkafka') as { features: string[]; librdkafkaVersion: string };
  for (const f of ['ssl', 'sasl_plain', 'sasl_scram', 'zstd', 'lz4', 'gzip']) assert.ok(kafka.features.includes(f), `librdkafka lacks ${f}: ${kafka.features.join(',')}`);
});

test('classic-level (its arm64 prebuild) stores and reads a key', async () => {
  const gypBuild = require('node-gyp-build') as { path(dir: string): string };
  const { dirname } = await import('node:path');
  assert.match(gypBuild.path(dirname(require.resolve('classic-level/package.json'))), /prebuilds\/linux-arm64\//);
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-arm64-level-'));
  try {
    const db = new Level<string, string>(dir);
    await db.put('k', 'v');
    assert.equal(await db.get('k'), 'v');
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('@serialport/bindings-cpp loads its linux-arm64 prebuild, whose native open() reports a missing port', async () => {
  const gypBuild = require('node-gyp-build') as { path(dir: string): string };
  const { dirname } = await import('node:path');
  const dir = dirname(require.resolve('@serialport/bindings-cpp/package.json'));
  assert.match(gypBuild.path(dir), /prebuilds\/linux-arm64\//);
  const { autoDetect } = require('@serialport/bindings-cpp') as { autoDetect(): { open(o: { path: string; baudRate: number }): Promise<unknown> } };
  await assert.rejects(autoDetect().open({ path: '/dev/fieldline-no-such-port', baudRate: 9600 }), /no such file|ENOENT|cannot open/i);
});
