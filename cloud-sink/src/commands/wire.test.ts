// The status events the consumer takes from iot.command-status: what it accepts and what it sends
// to the DLQ with FL_ERR_COMMANDS_BAD_STATUS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldlineError } from '../errors.js';
import { commandRecord, decodeStatusEvent, statusRecord } from './wire.js';

const at = (value: unknown) => ({ topic: 'iot.command-status', partition: 1, offset: 7, value: value === undefined ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)) });
const good = { id: 'c-1', device_id: 'd-1', gateway_id: 'gw-1', status: 'failed', ts_ms: 1_700_000_000_000, error: 'FL_ERR_X: no' };

describe('decodeStatusEvent', () => {
  it('takes the contract\'s event, error included, and drops an empty error', () => {
    assert.deepEqual(decodeStatusEvent(at(good)), good);
    const { error: _error, ...delivered } = { ...good, status: 'delivered' };
    assert.deepEqual(decodeStatusEvent(at({ ...delivered, error: '' })), delivered);
    assert.deepEqual(decodeStatusEvent(at({ ...delivered, error: null, extra: 'ignored' })), delivered, 'fields a newer gateway adds are passed over');
  });

  it('refuses anything else with FL_ERR_COMMANDS_BAD_STATUS, naming the field and where the message was', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /empty value/],
      ['{', /not JSON/],
      [[good], /not a JSON object/],
      [{ ...good, status: 'lost' }, /status: expected one of queued, delivered/],
      [{ ...good, id: '' }, /id: expected a non-empty string/],
      [{ ...good, gateway_id: 5 }, /gateway_id/],
      [{ ...good, device_id: 'x'.repeat(257) }, /device_id/],
      [{ ...good, ts_ms: -1 }, /ts_ms/],
      [{ ...good, ts_ms: '1700000000000' }, /ts_ms/],
      [{ ...good, error: 5 }, /error: expected a string/],
    ];
    for (const [value, why] of cases) {
      assert.throws(() => decodeStatusEvent(at(value)), (err: unknown) => {
        assert.ok(err instanceof FieldlineError);
        assert.equal(err.code, 'FL_ERR_COMMANDS_BAD_STATUS');
        assert.match(err.message, why);
        assert.match(err.message, /iot\.command-status\/1\/7/);
        return true;
      });
    }
  });

  it('keys commands by gateway and status events by command, as JSON with its content type', () => {
    const c = commandRecord({ id: 'c-1', gateway_id: 'gw-1', device_id: 'd-1', name: 'reboot', created_ms: 1, expires_ms: 2 });
    assert.equal(c.key, 'gw-1');
    assert.deepEqual(c.headers, [{ 'content-type': 'application/json' }]);
    assert.deepEqual(JSON.parse(c.value.toString()), { id: 'c-1', gateway_id: 'gw-1', device_id: 'd-1', name: 'reboot', created_ms: 1, expires_ms: 2 });
    const s = statusRecord({ id: 'c-1', gateway_id: 'gw-1', device_id: 'd-1', status: 'queued', ts_ms: 1 });
    assert.equal(s.key, 'c-1');
  });
});
