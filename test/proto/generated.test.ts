// proto/gen/ is what `npm run proto` makes from proto/telemetry.proto, byte for byte; and the proto
// compiles with protoc, the reference implementation other languages' clients will use.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..', '..');

it('regenerating proto/gen from telemetry.proto changes nothing', () => {
  const out = mkdtempSync(join(tmpdir(), 'fieldline-proto-'));
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts/gen-proto.mjs'), out], { stdio: 'pipe' });
    const files = readdirSync(join(ROOT, 'proto/gen')).sort();
    assert.deepEqual(readdirSync(out).sort(), files);
    for (const f of files) assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(ROOT, 'proto/gen', f), 'utf8'), f);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

it('telemetry.proto compiles with protoc', () => {
  const out = mkdtempSync(join(tmpdir(), 'fieldline-protoc-'));
  try {
    execFileSync('protoc', [`--proto_path=${join(ROOT, 'proto')}`, `--descriptor_set_out=${join(out, 'fds.bin')}`, 'telemetry.proto']);
    assert.ok(readFileSync(join(out, 'fds.bin')).length > 100);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
