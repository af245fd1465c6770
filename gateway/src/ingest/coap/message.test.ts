import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, Opt, decodeUint, encodeMessage, encodeUint, parseMessage, type CoapMessage } from './message.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('CoAP message format (RFC 7252 §3)', () => {
  it('parses a CON POST with token, Uri-Path, Content-Format and payload, byte for byte', () => {
    // 0x42: ver 1, CON, TKL 2 | 0x02 POST | MID 0x1234 | token beef
    // 0xB9 "telemetry" (Uri-Path, delta 11, len 9) | 0x04 "dev1" | 0x11 0x32 (Content-Format 50) | FF payload
    const buf = Buffer.concat([hex('42 02 1234 beef'), hex('b9'), Buffer.from('telemetry'), hex('04'), Buffer.from('dev1'), hex('11 32 ff'), Buffer.from('{}')]);
    const r = parseMessage(buf);
    assert.ok(r.ok);
    assert.equal(r.message.type, 'CON');
    assert.equal(r.message.code, Code.POST);
    assert.equal(r.message.messageId, 0x1234);
    assert.equal(r.message.token.toString('hex'), 'beef');
    assert.deepEqual(
      r.message.options.map((o) => [o.number, o.value.toString('latin1')]),
      [[Opt.URI_PATH, 'telemetry'], [Opt.URI_PATH, 'dev1'], [Opt.CONTENT_FORMAT, '2']],
    );
    assert.equal(r.message.payload.toString(), '{}');
  });

  it('round-trips extended option deltas and lengths (13 and 14 nibbles, §3.1)', () => {
    const m: CoapMessage = {
      type: 'NON', code: Code.CHANGED, messageId: 65535, token: hex('0102030405060708'),
      options: [
        { number: Opt.URI_PATH, value: Buffer.alloc(300, 0x61) }, // length 14-nibble
        { number: Opt.SIZE1, value: encodeUint(1024) }, // delta 49: 13-nibble
        { number: 2000, value: Buffer.alloc(13, 1) }, // delta 1940: 14-nibble; length 13: 13-nibble
      ],
      payload: Buffer.from('x'),
    };
    const r = parseMessage(encodeMessage(m));
    assert.ok(r.ok);
    assert.deepEqual(r.message, m);
  });

  it('refuses what §3 and §4.1 call format errors, keeping the header so a CON can be reset', () => {
    const cases: [string, Buffer, boolean][] = [
      ['short', hex('40 01 00'), false],
      ['token length 9', hex('49 01 0001 000000000000000000'), true],
      ['Empty with a token', hex('41 00 0001 aa'), true],
      ['payload marker, no payload', hex('40 02 0001 ff'), true],
      ['option delta nibble 15', hex('40 02 0001 f1 00'), true],
      ['option length nibble 15', hex('40 02 0001 1f 00'), true],
      ['option past the end', hex('40 02 0001 b5 6162'), true],
      ['extended delta cut off', hex('40 02 0001 d0'), true],
      ['token past the end', hex('44 02 0001 aa'), true],
    ];
    for (const [name, buf, hasHeader] of cases) {
      const r = parseMessage(buf);
      assert.equal(r.ok, false, name);
      if (!r.ok) assert.equal(r.header !== undefined, hasHeader, name);
    }
  });

  it('reports an unknown version so it can be ignored silently', () => {
    const r = parseMessage(hex('80 01 0001'));
    assert.ok(!r.ok && r.reason.startsWith('version'));
  });

  it('never throws on random bytes', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 20_000; i++) {
      const buf = Buffer.alloc(Math.floor(rand() * 64));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
      if (buf.length > 0 && rand() < 0.7) buf[0] = 0x40 | ((buf[0] as number) & 0x3f); // mostly version 1
      parseMessage(buf);
    }
  });

  it('encodes uints minimally (§3.2)', () => {
    assert.equal(encodeUint(0).length, 0);
    assert.deepEqual([...encodeUint(1024)], [4, 0]);
    assert.equal(decodeUint(encodeUint(4_000_000_000)), 4_000_000_000);
  });
});
