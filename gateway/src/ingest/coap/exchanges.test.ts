import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExchangeTable } from './exchanges.js';
import { CHANGED } from './reply.js';

describe('CoAP duplicate detection table (RFC 7252 §4.5)', () => {
  it('remembers an exchange and its answer until the lifetime ends', () => {
    const t = new ExchangeTable(10, 1000);
    t.begin('a', 0);
    assert.equal(t.get('a', 10)?.reply, undefined);
    t.complete('a', CHANGED);
    assert.equal(t.get('a', 999)?.reply, CHANGED);
    assert.equal(t.get('a', 1000), undefined);
  });

  it('forgets the oldest finished exchanges beyond its bound, never one still in flight', () => {
    const t = new ExchangeTable(3, 1_000_000);
    t.begin('pending', 0);
    for (const k of ['b', 'c', 'd', 'e']) {
      t.begin(k, 1);
      t.complete(k, CHANGED);
    }
    assert.equal(t.size, 3);
    assert.ok(t.get('pending', 2), 'the exchange in flight is kept');
    assert.equal(t.get('b', 2), undefined);
    assert.equal(t.get('c', 2), undefined);
    assert.ok(t.get('e', 2));
  });

  it('keys on endpoint, Message ID and token', () => {
    const k = ExchangeTable.key('10.0.0.1', 5683, 7, Buffer.from('ab', 'hex'));
    assert.notEqual(k, ExchangeTable.key('10.0.0.1', 5684, 7, Buffer.from('ab', 'hex')));
    assert.notEqual(k, ExchangeTable.key('10.0.0.1', 5683, 7, Buffer.from('ac', 'hex')));
  });
});
