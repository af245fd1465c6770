// `npm run stack` is what a developer runs to get Kafka on its default port and then start
// `fieldline-gateway` by hand against it (issue 9, acceptance 3). This runs exactly that: the stack
// as its own process (dist/devstack/main.js, which `npm run stack` starts after the build), a
// separately started gateway process with a config file naming the stack's broker, readings
// published by mosquitto_pub, and the batches read back from the broker with kcat.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePorts, repoRoot, run, runOk, spawnLogged, waitForPort, waitUntil, type LoggedProcess } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { GatewayChild } from '../fault/gateway-support.js';

const STACK_MAIN = join(repoRoot(), 'dist', 'devstack', 'main.js');

let dir: string;
let kafkaPort: number;
let controllerPort: number;
let stack: LoggedProcess | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-stack-'));
  [kafkaPort, controllerPort] = (await freePorts(2, { stable: true })) as [number, number];
});

after(async () => {
  await stack?.stop('SIGINT', 60_000);
  // Should the stack itself have died, its broker (a JVM in a process group of its own) must not outlive the test.
  await run('pkill', ['-f', dir]);
  rmSync(dir, { recursive: true, force: true });
});

function startStack(args: string[]): LoggedProcess {
  return spawnLogged(process.execPath, [STACK_MAIN, ...args], { logDir: dir, logName: `stack-${args.join('_').replace(/\W+/g, '_')}.log`, truncate: true });
}

/** The stack on the test's ports, once it says it is up (Kafka's data kept in <dir>/stack between tests). */
async function startStackUp(): Promise<LoggedProcess> {
  const proc = startStack(['--kafka-port', String(kafkaPort), '--controller-port', String(controllerPort), '--dir', join(dir, 'stack')]);
  await waitUntil(async () => proc.logTail().includes('Ctrl-C stops the stack.'), {
    what: 'npm run stack to report it is up',
    timeoutMs: 120_000,
    intervalMs: 100,
    process: proc,
  });
  return proc;
}

test('npm run stack refuses a bad port and a taken port before it starts anything, exit 2', async () => {
  const bad = startStack(['--kafka-port', '70000', '--dir', join(dir, 'bad')]);
  assert.equal((await bad.exited).code, 2);
  assert.match(bad.logTail(), /--kafka-port 70000: expected a port number/);

  // The controller port is the one a second stack on the same machine would collide on.
  const holder = spawnLogged(process.execPath, ['-e', `require('net').createServer().listen(${controllerPort}, '127.0.0.1')`], {
    logDir: dir,
    logName: 'holder.log',
  });
  try {
    await waitForPort(controllerPort);
    const taken = startStack(['--kafka-port', String(kafkaPort), '--controller-port', String(controllerPort), '--dir', join(dir, 'taken')]);
    assert.equal((await taken.exited).code, 2);
    assert.match(taken.logTail(), new RegExp(`port ${controllerPort} \\(controller-port\\) is taken`));
  } finally {
    await holder.stop('SIGKILL');
  }
});

test('npm run stack starts Kafka, and a separately started fieldline-gateway forwards to it', async () => {
  stack = await startStackUp();
  const bootstrap = `127.0.0.1:${kafkaPort}`;
  assert.match(stack.logTail(), new RegExp(`Kafka: ${bootstrap.replace(/\./g, '\\.')}`));

  // Every topic of DESIGN.md exists, the compacted ones compacted.
  const listed = JSON.parse((await runOk('kcat', ['-L', '-J', '-b', bootstrap])).stdout) as { topics: Array<{ topic: string }> };
  const names = new Set(listed.topics.map((t) => t.topic));
  for (const t of FIELDLINE_TOPICS) assert.ok(names.has(t.name), `topic ${t.name} created`);

  const gateway = await GatewayChild.create({ dir: join(dir, 'gateway'), gatewayId: 'gw-stack', brokers: bootstrap });
  try {
    await gateway.start();
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ metrics: { temperature: 20 + i, humidity: 40 + i } })).join('\n');
    const pub = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gateway.mqttPort), '-q', '1', '-i', 'stack-dev-1', '-t', 'devices/stack-dev-1/telemetry', '-l'], {
      input: `${lines}\n`,
      timeoutMs: 30_000,
    });
    assert.equal(pub.code, 0, pub.stderr);

    // 5 messages of 2 readings each, in batches keyed by the gateway id.
    let readings = 0;
    await waitUntil(
      async () => {
        const out = await run('kcat', ['-C', '-b', bootstrap, '-t', 'iot.readings', '-o', 'beginning', '-e', '-q', '-f', '%k %h\\n'], { timeoutMs: 20_000 });
        readings = 0;
        for (const line of out.stdout.split('\n').filter(Boolean)) {
          const [key, headers = ''] = line.split(' ');
          assert.equal(key, 'gw-stack');
          const count = /(?:^|,)reading-count=(\d+)/.exec(headers);
          assert.ok(count, `a batch without a reading-count header: ${line}`);
          readings += Number(count[1]);
        }
        return readings >= 10;
      },
      { what: 'the gateway to forward 10 readings to the stack broker', timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.equal(readings, 10);
  } finally {
    await gateway.stop();
  }

  // Ctrl-C stops the broker cleanly and the stack exits 0.
  const exit = await stack.stop('SIGINT', 60_000);
  assert.equal(exit.code, 0, stack.logTail());
  assert.match(stack.logTail(), /stopped\s*$/);
  await assert.rejects(waitForPort(kafkaPort, '127.0.0.1', 0), 'the broker port is closed after the stack stopped');
  stack = undefined;
});

test('a broker that dies under npm run stack is reported and the stack exits 1 instead of claiming to be up', async () => {
  stack = await startStackUp();
  // The broker's JVM names its data dir on its command line; the stack's own node process does not.
  const killed = await run('pkill', ['-KILL', '-f', `kafka.Kafka ${join(dir, 'stack', 'kafka')}`]);
  assert.equal(killed.code, 0, 'the broker JVM was found and killed');
  const exit = await stack.exited;
  assert.equal(exit.code, 1, stack.logTail());
  assert.match(stack.logTail(), new RegExp(`Kafka stopped answering on 127\\.0\\.0\\.1:${kafkaPort}`));
  stack = undefined;
});
