// A packet announcing more than mqtt.maxPacketBytes must close the connection before its body is
// buffered, on every plain listener: the config promises it, and the frame guard
// (gateway/src/ingest/mqtt/frame-guard.ts) does it for TCP. The fuzz attack sends such headers
// with a little body only; this test keeps sending body, as an attacker would, and watches the
// connection and the gateway's memory. Over WebSocket the connection used to stay open and the
// gateway buffered all 4 MiB sent (aedes' parser collects a packet until its announced length is
// there); the WebSocket listener now goes through the same guard.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import * as mq from '../support/mqtt-wire.js';
import { removeOnExit } from '../../devstack/net.js';
import { GatewayProcess, targetConfig, type TargetStats } from './target.js';

const MAX_PACKET_BYTES = 262_144; // the default
/** Body sent after the header unless the gateway hangs up first: 16 times the limit. */
const SEND_BYTES = 4 * 2 ** 20;
const CHUNK = 64 * 1024;

interface Conn {
  send(b: Buffer): void;
  closed(): boolean;
  close(): void;
}

async function open(kind: 'tcp' | 'ws', ports: { mqtt: number; ws: number }): Promise<Conn> {
  if (kind === 'tcp') {
    const sock = tcpConnect(ports.mqtt, '127.0.0.1');
    let closed = false;
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    await new Promise((resolve) => sock.once('connect', resolve));
    return { send: (b) => void sock.write(b), closed: () => closed, close: () => sock.destroy() };
  }
  const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}/mqtt`, 'mqtt');
  let closed = false;
  ws.on('close', () => (closed = true));
  ws.on('error', () => undefined);
  await new Promise((resolve) => ws.once('open', resolve));
  return { send: (b) => ws.send(b, { binary: true }), closed: () => closed, close: () => ws.terminate() };
}

describe('MQTT: a packet announcing more than maxPacketBytes is cut off before it is buffered', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-fuzz-oversized-'));
  const cleaned = removeOnExit(dir);
  let target: GatewayProcess;

  before(async () => {
    target = await GatewayProcess.start(
      await targetConfig(dir, {
        mqtt: { host: '127.0.0.1', port: 0, persistSessions: false, maxPacketBytes: MAX_PACKET_BYTES, websocket: { enabled: true, port: 0 } },
        coap: { enabled: false },
        api: { enabled: false },
      }),
    );
  });
  after(async () => {
    await target?.kill();
    rmSync(dir, { recursive: true, force: true });
    cleaned();
  });

  for (const kind of ['tcp', 'ws'] as const) {
    it(`over ${kind === 'tcp' ? 'TCP' : 'WebSocket'}: a PUBLISH announcing 268,435,455 bytes, then ${SEND_BYTES / 2 ** 20} MiB of body`, async () => {
      const retained = (s: TargetStats) => s.memory.heapUsed + s.memory.external;
      // The first WebSocket connection grows the heap by about 7 MiB once (HTTP upgrade and ws
      // code warming up) and never again; a well-behaved session first keeps that out of the figure.
      const warm = await open(kind, target.ports);
      warm.send(mq.connect({ version: 4, clientId: `warm-${kind}` }));
      await sleep(200);
      warm.close();
      await sleep(100);
      const before = await target.stats({ gc: true });
      const conn = await open(kind, target.ports);
      let sent = 0;
      try {
        conn.send(mq.connect({ version: 4, clientId: `big-${kind}` }));
        conn.send(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])); // the four-byte maximum [MQTT-1.5.5]
        for (; sent < SEND_BYTES && !conn.closed(); sent += CHUNK) {
          conn.send(Buffer.alloc(CHUNK, 0x61));
          await sleep(2); // a steady stream, not one burst the kernel would refuse
        }
        await sleep(200);
        const end = await target.stats({ gc: true });
        const growthMiB = (retained(end) - retained(before)) / 2 ** 20;
        console.log(`oversized packet over ${kind}: ${JSON.stringify({ closed: conn.closed(), bodySentKiB: sent / 1024, retainedGrowthMiB: Math.round(growthMiB * 10) / 10 })}`);
        assert.ok(conn.closed(), `the gateway closed the connection (it took ${sent / 1024} KiB of body and kept it open)`);
        assert.ok(growthMiB < 1, `the gateway holds ${growthMiB.toFixed(1)} MiB more than before`);
      } finally {
        conn.close();
      }
    });
  }
});
