// What the relay marks published after a run that failed part-way (the rest is in
// test/alerts/pumps.test.ts, against a real broker).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confirmedPrefix } from './relay.js';

describe('confirmedPrefix', () => {
  const rows = [
    { seq: 1, alert_id: 'a' },
    { seq: 2, alert_id: 'b' },
    { seq: 3, alert_id: 'a' },
    { seq: 4, alert_id: 'b' },
    { seq: 5, alert_id: 'a' },
    { seq: 6, alert_id: 'c' },
  ];

  it('marks every confirmed event when all were confirmed', () => {
    assert.deepEqual(confirmedPrefix(rows, new Set([1, 2, 3, 4, 5, 6])), [1, 2, 3, 4, 5, 6]);
  });

  it("stops each alert at its first unconfirmed event, so an event sent again never follows a later one of the same alert", () => {
    // 3 (alert a) unconfirmed: 5 stays unmarked though Kafka has it; b and c are unaffected.
    assert.deepEqual(confirmedPrefix(rows, new Set([1, 2, 4, 5, 6])), [1, 2, 4, 6]);
    assert.deepEqual(confirmedPrefix(rows, new Set([3, 4, 5])), []);
    assert.deepEqual(confirmedPrefix(rows, new Set()), []);
  });
});
