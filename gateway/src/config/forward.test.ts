// The forward section (issue 15): its defaults, its environment overrides, and a bad value refused
// with the key named, as every setting is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../common/src/config.js';
import { validateRaw } from './file.js';

describe('config: forward', () => {
  it('defaults to live first with a 5 s window, no byte cap, pacing by the sink store group, and columns on the wire', () => {
    assert.deepEqual(validateRaw({}, {}).forward, {
      liveFirst: true, liveWindowMs: 5_000, backlogMaxBytesPerSecond: 0, backlogMaxSinkLagBatches: 2, sinkGroup: 'fieldline-store', sinkLagPollMs: 100, encoding: 'columns',
    });
  });

  it('takes each key from the environment', () => {
    const f = validateRaw({}, {
      FIELDLINE_GATEWAY_FORWARD__LIVE_FIRST: 'false',
      FIELDLINE_GATEWAY_FORWARD__LIVE_WINDOW_MS: '2000',
      FIELDLINE_GATEWAY_FORWARD__BACKLOG_MAX_BYTES_PER_SECOND: '65536',
      FIELDLINE_GATEWAY_FORWARD__BACKLOG_MAX_SINK_LAG_BATCHES: '0',
      FIELDLINE_GATEWAY_FORWARD__SINK_GROUP: 'store-eu',
      FIELDLINE_GATEWAY_FORWARD__SINK_LAG_POLL_MS: '500',
      FIELDLINE_GATEWAY_FORWARD__ENCODING: 'readings',
    }).forward;
    assert.deepEqual(f, { liveFirst: false, liveWindowMs: 2_000, backlogMaxBytesPerSecond: 65_536, backlogMaxSinkLagBatches: 0, sinkGroup: 'store-eu', sinkLagPollMs: 500, encoding: 'readings' });
  });

  it('refuses a bad value or an unknown key, naming it', () => {
    assert.throws(() => validateRaw({ forward: { liveWindowMs: 10 } }, {}), (err: unknown) => err instanceof ConfigError && /forward\.liveWindowMs/.test(err.message));
    assert.throws(() => validateRaw({ forward: { backlogMaxBytesPerSecond: -1 } }, {}), (err: unknown) => err instanceof ConfigError && /forward\.backlogMaxBytesPerSecond/.test(err.message));
    assert.throws(() => validateRaw({ forward: { liveFirts: true } }, {}), (err: unknown) => err instanceof ConfigError && /liveFirts/.test(err.message));
    assert.throws(() => validateRaw({ forward: { encoding: 'json' } }, {}), (err: unknown) => err instanceof ConfigError && /forward\.encoding/.test(err.message) && /columns/.test(err.message));
  });
});
