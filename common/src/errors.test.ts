import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudError, StoreError } from '../../cloud-sink/src/errors.js';
import { GatewayError } from '../../gateway/src/errors.js';
import { WireError } from '../../proto/src/errors.js';
import { ConfigError } from './config.js';
import { defineCatalogue, FieldlineError } from './errors.js';

const sample = defineCatalogue({
  FL_ERR_SAMPLE_REFUSED: { status: 422, message: 'the sample was refused' },
  FL_ERR_SAMPLE_GONE: { status: 410, message: 'the sample is gone' },
});
class SampleError extends sample.ErrorClass {}

describe('an error made from a catalogue', () => {
  it('has the catalogued message, then ": " and the detail', () => {
    assert.equal(new SampleError('FL_ERR_SAMPLE_REFUSED', 'value 7 is odd').message, 'the sample was refused: value 7 is odd');
  });

  it('has the catalogued message alone when there is no detail', () => {
    assert.equal(new SampleError('FL_ERR_SAMPLE_GONE').message, 'the sample is gone');
    assert.equal(new SampleError('FL_ERR_SAMPLE_GONE', '').message, 'the sample is gone');
  });

  it('puts a detail that starts on its own line right after the colon (no trailing space)', () => {
    assert.equal(new SampleError('FL_ERR_SAMPLE_GONE', '\n  - a\n  - b').message, 'the sample is gone:\n  - a\n  - b');
  });

  it('carries the code and the catalogued status', () => {
    const e = new SampleError('FL_ERR_SAMPLE_REFUSED');
    assert.equal(e.code, 'FL_ERR_SAMPLE_REFUSED');
    assert.equal(e.statusCode, 422);
  });

  it('keeps the cause it was given', () => {
    const cause = new Error('ECONNRESET');
    assert.equal(new SampleError('FL_ERR_SAMPLE_GONE', 'lost', { cause }).cause, cause);
  });

  it('gives the API error body {"error": {"code", "message"}}', () => {
    assert.deepEqual(new SampleError('FL_ERR_SAMPLE_REFUSED', 'x').toBody(), { error: { code: 'FL_ERR_SAMPLE_REFUSED', message: 'the sample was refused: x' } });
  });

  it('is named after the class that threw it, so logs and stacks say which package', () => {
    assert.equal(new SampleError('FL_ERR_SAMPLE_GONE').name, 'SampleError');
    assert.equal(new StoreError('FL_ERR_STORE_UNAVAILABLE').name, 'StoreError');
    assert.match(String(new WireError('FL_ERR_WIRE_EMPTY')), /^WireError: message has no value$/);
  });

  it('accepts only its own catalogue\'s codes (checked by tsc)', () => {
    // @ts-expect-error a cloud code is not a gateway code
    assert.throws(() => new GatewayError('FL_ERR_STORE_UNAVAILABLE'), /FL_ERR_STORE_UNAVAILABLE is not a code of this catalogue/);
  });
});

describe('every package\'s errors are one FieldlineError', () => {
  const errors = [
    new GatewayError('FL_ERR_OUTBOX_FULL'),
    new CloudError('FL_ERR_AUTH_SCOPE', 'needs admin'),
    new StoreError('FL_ERR_STORE_BAD_BATCH'),
    new WireError('FL_ERR_WIRE_LZ4', 'bad magic'),
    new ConfigError(['mqtt.port: expected number']),
  ];

  it('so one instanceof check catches all of them and reads code and statusCode', () => {
    for (const e of errors) {
      assert.ok(e instanceof FieldlineError, `${e.name} is a FieldlineError`);
      assert.ok(e instanceof Error);
      assert.match(e.code, /^FL_ERR_/);
      assert.equal(typeof e.statusCode, 'number');
    }
  });

  it('while each package class stays apart, and StoreError is a CloudError', () => {
    assert.ok(!(errors[0] instanceof CloudError));
    assert.ok(!(errors[1] instanceof GatewayError));
    assert.ok(!(errors[1] instanceof StoreError));
    assert.ok(errors[2] instanceof CloudError);
    assert.ok(!(errors[3] instanceof GatewayError));
  });

  it('keeps the config loader\'s message and problems', () => {
    const e = new ConfigError(['a: bad', 'unknown key b']);
    assert.equal(e.message, 'invalid configuration:\n  - a: bad\n  - unknown key b');
    assert.deepEqual(e.problems, ['a: bad', 'unknown key b']);
    assert.equal(e.code, 'FL_ERR_CONFIG_INVALID');
  });
});

describe('defineCatalogue', () => {
  it('refuses a code not named FL_ERR_<AREA>_<WHAT>', () => {
    for (const bad of ['FL_ERR_API', 'FL_ERR_API_', 'FL_ERR__X', 'FL_ERR_4XX_X', 'FL_ERR_API__X', 'FL_ERR_A B_C']) {
      assert.throws(() => defineCatalogue({ [bad]: { status: 400, message: 'm' } } as never), /is not named FL_ERR_<AREA>_<WHAT>/, bad);
    }
    // tsc refuses these before the check above runs: no FL_ERR_ prefix, lower case, no area.
    assert.throws(() =>
      defineCatalogue({
        // @ts-expect-error not FL_ERR_
        ERR_API_X: { status: 400, message: 'm' },
      }),
    );
    assert.throws(() =>
      defineCatalogue({
        // @ts-expect-error lower case
        FL_ERR_api_x: { status: 400, message: 'm' },
      }),
    );
    assert.throws(() =>
      defineCatalogue({
        // @ts-expect-error no area
        FL_ERR_X: { status: 400, message: 'm' },
      }),
    );
  });

  it('refuses a status that is not an HTTP error status', () => {
    for (const status of [200, 302, 600, 4.5]) {
      assert.throws(() => defineCatalogue({ FL_ERR_SAMPLE_X: { status, message: 'm' } }), /not an HTTP error status/, String(status));
    }
  });

  it('returns the entries as they were written, so catalogue[code].status and .message read directly', () => {
    assert.deepEqual(sample.catalogue.FL_ERR_SAMPLE_GONE, { status: 410, message: 'the sample is gone' });
    assert.deepEqual(Object.keys(sample.catalogue), ['FL_ERR_SAMPLE_REFUSED', 'FL_ERR_SAMPLE_GONE']);
  });
});
