// The command wire between the two halves, checked with each side's own code: what the cloud puts on
// iot.commands (cloud-sink/src/commands) the gateway reads as the same command
// (gateway/src/commands/wire.ts), and every status event the gateway writes, failures with their
// reasons included, the cloud's status consumer decodes. A change on either side that breaks the
// other fails here before it fails in the field.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { commandMessage, type CommandRow } from '../../cloud-sink/src/commands/store.js';
import { commandRecord, decodeStatusEvent, PREDECESSORS } from '../../cloud-sink/src/commands/wire.js';
import { mayMove, type LedgerState } from '../../gateway/src/commands/ledger.js';
import { parseCommand, statusError, type CommandStatus } from '../../gateway/src/commands/wire.js';

function row(over: Partial<CommandRow>): CommandRow {
  const at = new Date('2026-11-30T12:00:00Z');
  return {
    id: '6f1c1f9e-0000-4000-8000-000000000001', device_id: 'dev-1', gateway_id: 'gw-1', name: 'reboot', payload: null, tag: null, value: null,
    status: 'queued', error: null, created_by: 'op', created_at: at, updated_at: at, expires_at: new Date(at.getTime() + 60_000), sent_at: null, event_pending: null,
    ...over,
  };
}

describe('the command wire, both halves', () => {
  test('an MQTT command and a Modbus write from the cloud are the same commands on the gateway', () => {
    for (const r of [row({ payload: { delay_s: 3, nested: [1, 'x'] } }), row({ name: 'write', tag: 'setpoint', value: 42.5 }), row({ name: 'write', tag: 'pumps', value: [true, false] })]) {
      const rec = commandRecord(commandMessage(r));
      assert.equal(rec.key, 'gw-1', 'keyed by gateway id, which the gateway filters on');
      const cmd = parseCommand(rec.value);
      assert.deepEqual(cmd, JSON.parse(rec.value.toString()));
      assert.equal(cmd.expires_ms, r.expires_at.getTime());
    }
  });

  test('every status the gateway emits, with its error text, is one the cloud decodes', () => {
    const statuses: CommandStatus['status'][] = ['delivered', 'acknowledged', 'failed', 'expired'];
    for (const status of statuses) {
      const e: CommandStatus = { id: 'c1', device_id: 'dev-1', gateway_id: 'gw-1', status, ts_ms: 1, ...(status === 'failed' ? { error: statusError('FL_ERR_COMMAND_OUT_OF_RANGE', '150 is above setpoint\'s max 100') } : {}) };
      const decoded = decodeStatusEvent({ value: Buffer.from(JSON.stringify(e)), topic: 'iot.command-status', partition: 0, offset: 0 });
      assert.deepEqual(decoded, e);
    }
  });

  test('each move the gateway makes is a forward move for the cloud too', () => {
    const wire: Partial<Record<LedgerState, CommandStatus['status']>> = { pending: 'queued', delivered: 'delivered', acknowledged: 'acknowledged', failed: 'failed', expired: 'expired' };
    for (const [from, fromWire] of Object.entries(wire) as [LedgerState, CommandStatus['status']][]) {
      for (const [to, toWire] of Object.entries(wire) as [LedgerState, CommandStatus['status']][]) {
        // The gateway goes pending → handing → delivered; handing is not on the wire.
        const gatewayMoves = from === 'pending' && to === 'delivered' ? mayMove('handing', 'delivered') : mayMove(from, to);
        if (gatewayMoves) assert.ok(PREDECESSORS[toWire].includes(fromWire), `${fromWire} → ${toWire} is refused by the cloud`);
      }
    }
  });
});
