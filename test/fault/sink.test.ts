// Issue 4, acceptance 7: "PostgreSQL stopped for 2 minutes and the sink killed mid-transaction: no
// offset is committed ahead of its rows; final row count equals unique readings produced."
//
// The real sink runs as its own process (`fieldline-cloud sink`) against a real PostgreSQL 15 and a
// real Kafka broker. The test produces the ReadingBatch messages itself, so it knows every batch
// and reading that exists, resends some batches byte for byte as a gateway does after a lost ack,
// and samples the store group's committed offsets throughout from a consumer outside the group.
//
// FIELDLINE_SOAK=1 (npm run test:soak) runs the outage for the full 120 s and kills the
// sink 20 times; by default the outage is 20 s and the sink is killed 6 times, to fit CI.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { defaultLogDir, waitUntil, type LoggedProcess } from '../../devstack/net.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import {
  assertStoredExactlyOnce,
  BatchProducer,
  committedAheadOfRows,
  CommittedOffsets,
  SinkProcess,
  sleep,
  TestDb,
  type SinkSettings,
} from './sink-support.js';

const SOAK = process.env.FIELDLINE_SOAK === '1';
const OUTAGE_S = SOAK ? 120 : 20;
const KILLS = SOAK ? 20 : 6;

/**
 * Sends batches from `gateways` in turn every intervalMs, each of `values` readings; every
 * resendEvery-th batch is sent again resendLag ticks later (a gateway's resend after a lost ack).
 */
function steadyStream(
  producer: BatchProducer,
  opts: { gateways: string[]; values: number; intervalMs: number; resendEvery: number; resendLag: number },
): { stop(): Promise<void> } {
  const seqs = new Map<string, number>();
  const resends: { due: number; gateway: string; seq: number }[] = [];
  let tick = 0;
  const timer = setInterval(() => {
    tick++;
    const gateway = opts.gateways[tick % opts.gateways.length]!;
    const seq = (seqs.get(gateway) ?? 0) + 1;
    seqs.set(gateway, seq);
    producer.send(gateway, seq, opts.values);
    if (tick % opts.resendEvery === 0) resends.push({ due: tick + opts.resendLag, gateway, seq });
    else producer.forget(gateway, seq);
    while (resends.length > 0 && resends[0]!.due <= tick) {
      const r = resends.shift()!;
      producer.resend(r.gateway, r.seq);
      producer.forget(r.gateway, r.seq);
    }
  }, opts.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      for (const r of resends.splice(0)) producer.resend(r.gateway, r.seq);
      await producer.settle();
    },
  };
}

/**
 * Waits until the group has committed every message there is. A correct sink has stored a batch
 * before it commits its offset, so the ledger is then complete; a sink that is not gets no second
 * chance at a committed message, so after a short grace the checks that name what is missing run.
 */
async function drain(db: TestDb, offsets: CommittedOffsets, producer: BatchProducer, sink: LoggedProcess, timeoutMs: number): Promise<void> {
  const ends = await offsets.ends();
  await waitUntil(
    async () => {
      const committed = await offsets.read();
      for (const [p, end] of ends) if ((committed.get(p) ?? 0) < end) return false;
      return true;
    },
    { what: `the sink to commit every offset (${[...ends.values()].join(', ')})`, timeoutMs, intervalMs: 500, process: sink },
  );
  await waitUntil(async () => (await db.count(`SELECT count(*) AS n FROM ingested_batches`)) >= producer.unique.size, {
    what: 'the ledger to hold every batch',
    timeoutMs: 5_000,
    process: sink,
  }).catch(() => undefined);
}

function settings(name: string, dir: string, kafka: KafkaBroker, databaseUrl: string, maxBatchMessages: number): SinkSettings {
  return {
    name,
    dir,
    logDir: defaultLogDir(),
    databaseUrl,
    brokers: kafka.bootstrap,
    readingsTopic: `${name}.readings`,
    dlqTopic: `${name}.dlq`,
    storeGroup: `${name}-store`,
    maxBatchMessages,
  };
}

function report(t: TestContext, what: string, value: unknown): void {
  t.diagnostic(`${what}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

describe('sink faults (issue 4, acceptance 7)', { timeout: 590_000 }, () => {
  let kafka: KafkaBroker;
  let pgServer: PgServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-fault-sink-'));
    pgServer = await startPostgres();
    kafka = await startKafka();
  });
  after(async () => {
    await kafka?.destroy();
    await pgServer?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    `PostgreSQL stopped for ${OUTAGE_S} s${SOAK ? '' : ' (120 s with FIELDLINE_SOAK=1)'} while batches keep arriving: ` +
      'the sink holds its offsets, none is committed ahead of its rows, and every unique reading is stored once',
    async (t) => {
      const s = settings('fault-outage', dir, kafka, await pgServer.createDatabase('fault_outage'), 50);
      // One partition: message offsets 0..n-1 are the whole story.
      await kafka.createTopics([{ name: s.readingsTopic, partitions: 1 }, { name: s.dlqTopic, partitions: 1 }]);
      const db = TestDb.open(s.databaseUrl);
      const sink = new SinkProcess(s);
      let producer: BatchProducer | undefined;
      let offsets: CommittedOffsets | undefined;
      let stream: { stop(): Promise<void> } | undefined;
      try {
        producer = await BatchProducer.connect(kafka.bootstrap, s.readingsTopic);
        offsets = await CommittedOffsets.connect(kafka.bootstrap, s.storeGroup, s.readingsTopic, 1);
        const proc = await sink.start();
        offsets.startSampling(200);
        stream = steadyStream(producer, { gateways: ['gw-out-1', 'gw-out-2'], values: 500, intervalMs: 100, resendEvery: 10, resendLag: 3 });

        await waitUntil(async () => (await db.count(`SELECT count(*) AS n FROM ingested_batches`)) >= 20, {
          what: 'the sink to store its first batches',
          timeoutMs: 60_000,
          process: proc,
        });
        const sentBeforeStop = producer.sent;
        await pgServer.stop();
        const tStopped = Date.now();
        await sleep(OUTAGE_S * 1000);
        assert.ok(proc.running(), `the sink survived the database outage (log: ${sink.logFile})`);
        const sentDuringOutage = producer.sent - sentBeforeStop;
        const endsAtRestart = (await offsets.ends()).get(0) ?? 0;
        const tRestart = Date.now();
        await pgServer.start();
        const outageS = (tRestart - tStopped) / 1000;

        await sleep(4_000);
        await stream.stop();
        stream = undefined;
        const tDrain = Date.now();
        await drain(db, offsets, producer, proc, 180_000);
        const drainS = (Date.now() - tDrain) / 1000;
        await offsets.stopSampling();
        assert.ok(proc.running(), 'the sink is still the same process after the outage: no crash, no restart');
        const exit = await proc.stop('SIGTERM');
        assert.deepEqual(exit, { code: 0, signal: null }, 'the sink stops cleanly on SIGTERM');

        const ledger = await db.ledger();
        const located = producer.located.get(0) ?? new Map<number, string>();

        // During the outage nothing can enter the ledger: what is there with ingested_at before the
        // restart is what was there when the server stopped. The committed offset may not pass it.
        let frozenCoverage = 0;
        while (frozenCoverage < located.size && (ledger.get(located.get(frozenCoverage) ?? '') ?? Infinity) < tRestart) frozenCoverage++;
        const during = offsets.samples.filter((x) => x.t >= tStopped && x.t <= tRestart).map((x) => x.offsets.get(0) ?? 0);
        assert.ok(during.length >= OUTAGE_S, `committed offsets were sampled through the outage (${during.length} samples)`);
        const highestDuring = Math.max(...during);
        assert.ok(
          highestDuring <= frozenCoverage,
          `during the outage the committed offset reached ${highestDuring}, but only messages 0..${frozenCoverage - 1} had their batch in ingested_batches`,
        );
        assert.ok(
          endsAtRestart - highestDuring >= sentDuringOutage / 2,
          `offsets were held through the outage: ${endsAtRestart - highestDuring} messages uncommitted at restart, ${sentDuringOutage} sent during it`,
        );
        assert.deepEqual(committedAheadOfRows(offsets.samples, producer.located, ledger).slice(0, 5), [], 'no offset sample is ahead of its rows');
        assert.deepEqual(offsets.errors, [], 'every offset sample was read');

        const stored = await assertStoredExactlyOnce(db, producer);
        // Last: the run proves something only if the sink did run into the outage.
        // The outage may meet the sink in its write or in the step after it (rollups, fleet records);
        // both hold the offsets and retry.
        const retried = sink.countInLog('database write failed; retrying (offsets held)') + sink.countInLog('after-store step failed; retrying (offsets held)');
        assert.ok(retried > 0, `the sink saw the outage and retried (log: ${sink.logFile})`);
        report(t, 'outage', {
          outageS,
          soak: SOAK,
          offsetSamples: offsets.samples.length,
          samplesDuringOutage: during.length,
          committedDuringOutage: highestDuring,
          ledgerCoverageAtStop: frozenCoverage,
          uncommittedAtRestart: endsAtRestart - highestDuring,
          messagesSent: producer.sent,
          resent: producer.resent,
          uniqueBatches: stored.batches,
          rows: stored.rows,
          drainAfterStreamS: drainS,
        });
      } finally {
        await stream?.stop().catch(() => undefined);
        await sink.kill();
        await offsets?.close();
        await producer?.close();
        await pgServer.start(); // in case the test failed during the outage
        await db.close();
      }
    },
  );

  it(
    `the sink SIGKILLed ${KILLS} times while ingesting 5,000-reading batches, restarted each time: ` +
      'rows = unique readings, each batch in the ledger once and whole, no reading twice, none missing, no offset ahead of its rows',
    async (t) => {
      const s = settings('fault-kill', dir, kafka, await pgServer.createDatabase('fault_kill'), 20);
      const partitions = 3;
      await kafka.createTopics([{ name: s.readingsTopic, partitions }, { name: s.dlqTopic, partitions: 1 }]);
      const db = TestDb.open(s.databaseUrl);
      const sink = new SinkProcess(s);
      let producer: BatchProducer | undefined;
      let offsets: CommittedOffsets | undefined;
      let stream: { stop(): Promise<void> } | undefined;
      const kills: {
        k: number;
        mode: 'random' | 'aimed';
        msAfterProgress: number;
        inTransactionAtKill: boolean;
        statements: string[];
        rolledBack: number;
      }[] = [];
      try {
        producer = await BatchProducer.connect(kafka.bootstrap, s.readingsTopic);
        offsets = await CommittedOffsets.connect(kafka.bootstrap, s.storeGroup, s.readingsTopic, partitions);
        offsets.startSampling(250);
        stream = steadyStream(producer, { gateways: ['gw-kill-1', 'gw-kill-2', 'gw-kill-3'], values: 5000, intervalMs: 300, resendEvery: 7, resendLag: 4 });

        const tKills = Date.now();
        for (let k = 1; k <= KILLS; k++) {
          const proc = await sink.start();
          const ledgerAtStart = await db.count(`SELECT count(*) AS n FROM ingested_batches`);
          await waitUntil(async () => (await db.count(`SELECT count(*) AS n FROM ingested_batches`)) > ledgerAtStart, {
            what: `the sink (start ${k}) to store a batch`,
            timeoutMs: 90_000,
            intervalMs: 50,
            process: proc,
          });
          const rollbacksBefore = await db.rollbacks();
          const progressAt = Date.now();
          // Half the kills at a random moment of a steady ingest, half aimed at an open transaction.
          const mode = k % 2 === 0 ? 'aimed' : 'random';
          let backends: Awaited<ReturnType<TestDb['sinkBackends']>> = [];
          if (mode === 'random') {
            await sleep(Math.floor(Math.random() * 2000));
            backends = await db.sinkBackends();
          } else {
            // Past BEGIN: the transaction has written (or is writing) ledger rows or readings.
            await waitUntil(async () => (backends = await db.sinkBackends()).some((b) => b.inTx && /^\s*INSERT/i.test(b.query)), {
              what: `the sink (start ${k}) to be inside a transaction that writes`,
              timeoutMs: 60_000,
              intervalMs: 5,
              process: proc,
            });
            await sleep(Math.floor(Math.random() * 30));
          }
          const msAfterProgress = Date.now() - progressAt;
          await sink.kill();
          // The server notices the dead client and rolls its open transaction back; once its
          // backends are gone, their rollbacks are in the statistics.
          await waitUntil(async () => (await db.sinkBackends()).length === 0, { what: 'the killed sink\'s connections to close', timeoutMs: 30_000, intervalMs: 20 });
          const rolledBack = (await db.rollbacks()) - rollbacksBefore;
          // Neither the sink nor the database moves now: this sample is exact.
          await offsets.read();
          kills.push({
            k,
            mode,
            msAfterProgress,
            inTransactionAtKill: backends.some((b) => b.inTx),
            statements: backends.filter((b) => b.inTx).map((b) => `${b.state}: ${b.query.replace(/\s+/g, ' ')}`),
            rolledBack,
          });
        }
        const killPhaseS = (Date.now() - tKills) / 1000;

        const proc = await sink.start();
        await sleep(3_000);
        await stream.stop();
        stream = undefined;
        const tDrain = Date.now();
        await drain(db, offsets, producer, proc, 240_000);
        const drainS = (Date.now() - tDrain) / 1000;
        await offsets.stopSampling();
        const exit = await proc.stop('SIGTERM');
        assert.deepEqual(exit, { code: 0, signal: null }, 'the last sink stops cleanly on SIGTERM');

        for (const kill of kills) report(t, `kill ${kill.k}`, kill);
        const midTransaction = kills.filter((x) => x.rolledBack > 0).length;
        report(t, 'kills', {
          kills: kills.length,
          rolledBackByTheServer: midTransaction,
          inTransactionPerPgStatActivity: kills.filter((x) => x.inTransactionAtKill).length,
          rolledBackWhileInserting: kills.filter((x) => x.rolledBack > 0 && x.statements.some((q) => /INSERT/i.test(q))).length,
          killPhaseS,
          drainAfterStreamS: drainS,
        });

        const ledger = await db.ledger();
        assert.deepEqual(committedAheadOfRows(offsets.samples, producer.located, ledger).slice(0, 5), [], 'no offset sample is ahead of its rows');
        assert.deepEqual(offsets.errors, [], 'every offset sample was read');
        assert.ok(producer.resent > 0, 'some batches were sent twice');
        const stored = await assertStoredExactlyOnce(db, producer);
        // Last, since a sink that loses data is the louder finding: the kills must have hit open
        // transactions for this run to prove anything about them. The server counts a transaction
        // it rolls back because its client vanished; nothing else rolls back in this database.
        assert.ok(midTransaction >= 1, `at least one kill landed inside an open transaction (${midTransaction} of ${kills.length} did)`);
        report(t, 'stored', {
          soak: SOAK,
          sinkStarts: sink.starts,
          offsetSamples: offsets.samples.length,
          messagesSent: producer.sent,
          resent: producer.resent,
          uniqueBatches: stored.batches,
          rows: stored.rows,
        });
      } finally {
        await stream?.stop().catch(() => undefined);
        await sink.kill();
        await offsets?.close();
        await producer?.close();
        await db.close();
      }
    },
  );
});
