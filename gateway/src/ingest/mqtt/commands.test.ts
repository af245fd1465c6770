// Which subscriptions cover a device's commands topic [MQTT-4.7.1], and which topics only the
// gateway may speak on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterMatches, isCommandsTopic } from './commands.js';

test('a subscription covers devices/{id}/commands exactly, through + and through #', () => {
  const topic = 'devices/d1/commands';
  for (const f of ['devices/d1/commands', 'devices/d1/+', 'devices/+/commands', 'devices/d1/#', 'devices/#', '#', 'devices/d1/commands/#']) {
    assert.equal(filterMatches(f, topic), true, f);
  }
  for (const f of ['devices/d2/commands', 'devices/d1/commands/ack', 'devices/d1', 'devices/d1/+/+', 'devices/d1/command']) {
    assert.equal(filterMatches(f, topic), false, f);
  }
});

test('commands topics are devices/{one level}/commands, not the ack topic below them', () => {
  assert.equal(isCommandsTopic('devices/d1/commands'), true);
  assert.equal(isCommandsTopic('devices/d1/commands/ack'), false);
  assert.equal(isCommandsTopic('devices/a/b/commands'), false);
  assert.equal(isCommandsTopic('devices/d1/telemetry'), false);
});
