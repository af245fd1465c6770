import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { LocalDestination } from './local.js';
import { claimStaging } from './staging.js';

const root = mkdtempSync(join(tmpdir(), 'fieldline-lake-local-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('LocalDestination', () => {
  it('putIfAbsent creates a key once: of ten racing writers exactly one wins, and its bytes are what is there', async () => {
    const dest = new LocalDestination(join(root, 'race'));
    await dest.open();
    const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => dest.putIfAbsent('_manifests/readings/p000/o1.json', Buffer.from(`writer ${i}`))));
    assert.equal(wins.filter(Boolean).length, 1);
    assert.equal((await dest.get('_manifests/readings/p000/o1.json'))?.toString(), `writer ${wins.indexOf(true)}`);
    assert.equal(await dest.putIfAbsent('_manifests/readings/p000/o1.json', Buffer.from('late')), false);
  });

  it('put moves a staged file into place and replaces an existing one whole', async () => {
    const dest = new LocalDestination(join(root, 'put'));
    await dest.open();
    const staged = join(dest.stagingRoot, 'f.tmp');
    writeFileSync(staged, 'first');
    await dest.put('readings/date=2025-01-01/hour=00/a.parquet', staged);
    const firstInode = statSync(join(root, 'put', 'readings/date=2025-01-01/hour=00/a.parquet')).ino;
    writeFileSync(staged, 'second');
    await dest.put('readings/date=2025-01-01/hour=00/a.parquet', staged);
    assert.equal(readFileSync(join(root, 'put', 'readings/date=2025-01-01/hour=00/a.parquet'), 'utf8'), 'second');
    assert.notEqual(statSync(join(root, 'put', 'readings/date=2025-01-01/hour=00/a.parquet')).ino, firstInode);
    assert.deepEqual((await dest.list('readings/')).map((o) => o.key), ['readings/date=2025-01-01/hour=00/a.parquet']);
    assert.equal(await dest.exists('readings/date=2025-01-01/hour=00/a.parquet'), true);
    assert.equal(await dest.get('readings/nothing'), null);
    await assert.rejects(dest.get('../escape'), /not a plain relative path/);
  });

  it('claimStaging clears the staging folders of dead writers on this host and keeps live ones', async () => {
    const staging = join(root, 'staging');
    const dead = join(staging, `${hostname()}-999999999-0000abcd`);
    const live = join(staging, `${hostname()}-${process.pid}-1111abcd`);
    mkdirSync(dead, { recursive: true });
    mkdirSync(live, { recursive: true });
    writeFileSync(join(dead, 'x.parquet.tmp'), 'half');
    const mine = await claimStaging(staging, pino({ level: 'silent' }));
    assert.throws(() => statSync(dead));
    assert.ok(statSync(live).isDirectory());
    assert.ok(statSync(mine).isDirectory());
  });
});
