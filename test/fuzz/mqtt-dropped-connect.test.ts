// Pins what test/fuzz/ingest.test.ts found: after its attack the MQTT adapter still counted ~200
// clients with one connected. With persistSessions (the default) aedes runs a CONNECT's session
// steps on LevelDB asynchronously; a client whose connection closes in that window is registered
// after it has closed, and stays in the broker's client table (and in the adapter's client count)
// until some later client takes over its id. With a fresh client id each time, any anonymous client
// can grow the gateway's heap without bound, about 9 KiB per connection. Both settings must pass.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import * as mq from '../support/mqtt-wire.js';
import { removeOnExit } from '../../devstack/net.js';
import { GatewayProcess, mqttClients, targetConfig, type TargetStats } from './target.js';

const CONNECTIONS = 1_000;
/** 1,000 leaked clients hold about 9 MiB; 1,000 clients that are let go leave well under 1 MiB. */
const HEAP_GROWTH_MIB = 3;

/**
 * Opens a connection and writes a valid CONNECT; then closes `delayMs` later, or with 'clean' waits
 * for the CONNACK and says DISCONNECT as a well-behaved client does.
 */
async function connectAndHangUp(port: number, clientId: string, delayMs: number | 'clean'): Promise<void> {
  const sock = tcpConnect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise((resolve) => sock.once('connect', resolve));
  sock.write(mq.connect({ version: 4, clientId }));
  if (delayMs === 'clean') {
    await new Promise((resolve) => sock.once('data', resolve));
    sock.end(mq.disconnect());
    await new Promise((resolve) => sock.once('close', resolve));
  } else {
    await sleep(delayMs);
  }
  sock.destroy();
}

for (const persistSessions of [true, false]) {
  describe(`MQTT (persistSessions: ${persistSessions}): a client that hangs up right after CONNECT leaves nothing behind`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldline-fuzz-connect-'));
    const cleaned = removeOnExit(dir);
    let target: GatewayProcess;

    before(async () => {
      target = await GatewayProcess.start(
        await targetConfig(dir, { mqtt: { host: '127.0.0.1', port: 0, persistSessions }, coap: { enabled: false }, api: { enabled: false } }),
      );
    });
    after(async () => {
      await target?.kill();
      rmSync(dir, { recursive: true, force: true });
      cleaned();
    });

    it(`${CONNECTIONS} connections, each a CONNECT with a new client id and a close 0-2 ms later: no client stays registered, the heap does not grow`, async () => {
      const port = target.ports.mqtt;
      // Warm-up with well-behaved clients, so code and pools are warm.
      for (let i = 0; i < 200; i += 8) await Promise.all(Array.from({ length: 8 }, (_, k) => connectAndHangUp(port, `warm-${i + k}`, 'clean')));
      const settled = async (): Promise<TargetStats> => {
        let s = await target.stats();
        for (let i = 0; i < 30 && mqttClients(s) !== 0; i++) s = await sleep(100).then(() => target.stats());
        return target.stats({ gc: true });
      };
      const before = await settled();
      for (let i = 0; i < CONNECTIONS; i += 8) {
        await Promise.all(Array.from({ length: 8 }, (_, k) => connectAndHangUp(port, `once-${i + k}`, (i + k) % 3)));
      }
      const end = await settled();
      const growthMiB = (end.memory.heapUsed - before.memory.heapUsed) / 2 ** 20;
      console.log(`dropped CONNECT (persistSessions ${persistSessions}): ${JSON.stringify({ clientsBefore: mqttClients(before), clientsAfter: mqttClients(end), heapGrowthMiB: Math.round(growthMiB * 10) / 10 })}`);
      assert.ok(target.alive(), `the gateway is alive (${target.describeExit()})`);
      assert.equal(mqttClients(before), 0, 'no client left over from the warm-up');
      assert.equal(mqttClients(end), 0, 'the broker counts no client once every connection is closed');
      assert.ok(growthMiB < HEAP_GROWTH_MIB, `heap after GC grew ${growthMiB.toFixed(1)} MiB over ${CONNECTIONS} connections (bound ${HEAP_GROWTH_MIB})`);
    });
  });
}
