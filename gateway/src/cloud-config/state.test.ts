// The rules that decide what a cloud config version does: version order, local-vs-cloud conflicts,
// and what survives a restart.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CloudConfigMessage } from './message.js';
import {
  CloudConfigStore, INITIAL_STATE, beginApply, configSource, decide, describeState, markApplied, markConflict, markFailed, markLocalChange,
  recoverInterrupted,
} from './state.js';

const msg = (version: number, issuedMs: number): CloudConfigMessage => ({
  gateway_id: 'gw-1', version, issued_ms: issuedMs, issued_by: 'ops', section: 'modbus', config: { enabled: false },
});

describe('cloud config versions: order', () => {
  it('a first version applies; the same or an older one afterwards is ignored, a newer one applies', () => {
    assert.equal(decide(INITIAL_STATE, msg(1, 1_000)).action, 'apply');
    const s = markApplied(INITIAL_STATE, msg(3, 3_000), 3_500);
    assert.deepEqual(decide(s, msg(3, 3_000)), { action: 'ignore', why: 'version 3 is not newer than version 3, already seen' });
    assert.equal(decide(s, msg(2, 9_000)).action, 'ignore', 'an older version is ignored even when stamped later');
    assert.equal(decide(s, msg(4, 4_000)).action, 'apply');
  });

  it('a refused version counts as seen: it is not tried again, a newer one is', () => {
    const s = markFailed(markApplied(INITIAL_STATE, msg(1, 1_000), 1_100), 2, 'FL_ERR_CONFIG_CLOUD_FAILED', 'modbus is down');
    assert.equal(s.applied?.version, 1, 'the applied version stays the one running');
    assert.equal(s.seen, 2);
    assert.equal(decide(s, msg(2, 2_000)).action, 'ignore');
    assert.equal(decide(s, msg(3, 3_000)).action, 'apply');
    assert.equal(describeState(s).error, 'version 2: FL_ERR_CONFIG_CLOUD_FAILED: modbus is down');
    assert.equal(describeState(markApplied(s, msg(3, 3_000), 3_100)).error, '', 'a newer version applied clears the error');
  });
});

describe('cloud config versions: a change made on site', () => {
  const applied = markApplied(INITIAL_STATE, msg(2, 2_000), 2_100);
  const local = markLocalChange(applied, 10_000);

  it('records when and on top of which cloud version the local change was made', () => {
    assert.deepEqual(local.local, { changedMs: 10_000, baseVersion: 2 });
    assert.equal(configSource(local), 'local');
    assert.equal(configSource(applied), 'cloud');
    assert.equal(configSource(INITIAL_STATE), 'file');
  });

  it('a cloud version issued before the local change is held back as a conflict, and that is reported', () => {
    assert.equal(decide(local, msg(3, 9_999)).action, 'conflict');
    const c = markConflict(local, msg(3, 9_999));
    assert.equal(c.seen, 3);
    assert.equal(c.applied?.version, 2, 'the cloud version running is still 2');
    assert.equal(configSource(c), 'local', 'the local config still runs');
    const text = describeState(c).conflict;
    assert.match(text, /^version 3, issued 1970-01-01T00:00:09\.999Z, predates the change made on site at 1970-01-01T00:00:10\.000Z \(on top of version 2\)/);
    assert.equal(decide(c, msg(3, 9_999)).action, 'ignore', 'the held-back version is not reconsidered');
  });

  it('a cloud version issued after the local change wins, and clears the conflict and the local mark', () => {
    const c = markConflict(local, msg(3, 9_999));
    assert.equal(decide(c, msg(4, 10_001)).action, 'apply');
    const after = markApplied(c, msg(4, 10_001), 10_500);
    assert.equal(after.local, null);
    assert.equal(after.conflict, null);
    assert.equal(configSource(after), 'cloud');
    assert.equal(describeState(after).conflict, '');
  });

  it('without a local change, the issue time does not matter', () => {
    assert.equal(decide(applied, msg(3, 0)).action, 'apply');
  });
});

describe('cloud config state across restarts', () => {
  it('is kept in the file: a restart neither applies a version again nor an older one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-cloudcfg-'));
    try {
      const file = join(dir, 'cloud-config.json');
      const a = new CloudConfigStore(file);
      assert.deepEqual(a.state, INITIAL_STATE);
      a.set(markApplied(a.state, msg(5, 5_000), 5_100));
      const b = new CloudConfigStore(file);
      assert.equal(b.state.applied?.version, 5);
      assert.equal(decide(b.state, msg(5, 5_000)).action, 'ignore');
      assert.equal(decide(b.state, msg(4, 4_000)).action, 'ignore');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a version the process stopped in the middle of applying is marked failed, not tried again', () => {
    const s = recoverInterrupted(beginApply(markApplied(INITIAL_STATE, msg(1, 1_000), 1_100), 2));
    assert.equal(s.applying, null);
    assert.equal(s.seen, 2);
    assert.equal(s.error?.version, 2);
    assert.match(s.error?.message ?? '', /stopped while applying/);
    assert.equal(decide(s, msg(2, 2_000)).action, 'ignore');
    assert.equal(recoverInterrupted(INITIAL_STATE), INITIAL_STATE);
  });

  it('an unreadable state file is reported and taken as empty, not fatal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-cloudcfg-'));
    try {
      const file = join(dir, 'cloud-config.json');
      writeFileSync(file, '{not json');
      const s = new CloudConfigStore(file);
      assert.match(s.loadProblem ?? '', /cloud-config\.json/);
      assert.deepEqual(s.state, INITIAL_STATE);
      s.set(markLocalChange(s.state, 7));
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).local.changedMs, 7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
