// install.sh for real, in a throwaway Debian 12 root: it runs there (under systemd-nspawn
// --as-pid2, a chroot with its own mounts), then the root boots with systemd as PID 1 and starts
// the installed unit as it would on a gateway: Type=notify, the watchdog, the sandbox, the
// fieldline user. A check unit inside the container records what it sees and powers off.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unpackDebianRoot } from '../../devstack/debian-root.js';
import { freePorts, repoRoot } from '../../devstack/net.js';

const WATCHDOG_S = 4;

function nspawn(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const p = spawn('systemd-nspawn', ['--register=no', '--keep-unit', '-q', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (b: Buffer) => (output += b.toString()));
    p.stderr.on('data', (b: Buffer) => (output += b.toString()));
    // systemd-nspawn ends the container (and everything in it) when it is killed.
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', fail);
    p.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe('install.sh in a fresh Debian root, then booted under systemd', { timeout: 9 * 60_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'fieldline-nspawn-'));
  const root = join(work, 'root');
  const results = join(work, 'results');
  const nodePrefix = dirname(dirname(realpathSync(process.execPath)));
  const nodeBin = join(nodePrefix, 'bin', 'node');
  const repo = repoRoot();
  const binds = [`--bind-ro=${repo}:/src`, `--bind-ro=${nodePrefix}`];
  // A worktree's node_modules may be a link to a shared tree: make its target visible too.
  const modules = realpathSync(join(repo, 'node_modules'));
  if (!modules.startsWith(`${repo}/`)) binds.push(`--bind-ro=${modules}`);
  let install = { code: null as number | null, output: '' };
  let boot = { code: null as number | null, output: '' };
  let apiPort = 0;
  const read = (name: string) => readFileSync(join(results, name), 'utf8').trim();

  before(async () => {
    unpackDebianRoot(root);
    mkdirSync(results);
    install = await nspawn(
      ['-D', root, ...binds, `--setenv=PATH=${nodePrefix}/bin:/usr/sbin:/usr/bin:/sbin:/bin`, '--as-pid2', '/bin/bash', '/src/deploy/systemd/install.sh', 'gateway'],
      5 * 60_000,
    );
    if (install.code !== 0) return;
    // What an operator would put in /etc/fieldline/gateway.env: here, ports no other test uses
    // (the container shares this machine's network) and a Kafka that is not there.
    const [api, mqtt, coap] = await freePorts(3);
    apiPort = api!;
    writeFileSync(
      join(root, 'etc/fieldline/gateway.env'),
      [`FIELDLINE_GATEWAY_API__PORT=${api}`, `FIELDLINE_GATEWAY_MQTT__PORT=${mqtt}`, `FIELDLINE_GATEWAY_COAP__PORT=${coap}`,
        'FIELDLINE_GATEWAY_KAFKA__BROKERS=127.0.0.1:1', 'FIELDLINE_GATEWAY_API__HOST=127.0.0.1', ''].join('\n'),
    );
    // A short watchdog, so the test sees systemd keep a pinging gateway for several intervals.
    mkdirSync(join(root, 'etc/systemd/system/fieldline-gateway.service.d'));
    writeFileSync(join(root, 'etc/systemd/system/fieldline-gateway.service.d/test.conf'), `[Service]\nWatchdogSec=${WATCHDOG_S}s\n`);
    writeFileSync(join(root, 'etc/systemd/system/fieldline-check.service'), `[Unit]
After=fieldline-gateway.service
[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/bash /results/check.sh
[Install]
WantedBy=multi-user.target
`);
    writeFileSync(join(results, 'check.sh'), `set -u
cd /results
for i in $(seq 1 180); do systemctl is-active -q fieldline-gateway && break; [ "$(systemctl show -P NRestarts fieldline-gateway)" -gt 2 ] && break; sleep 0.5; done
for i in $(seq 1 20); do ${nodeBin} -e 'fetch("http://127.0.0.1:${apiPort}/healthz").then(async (r) => { console.log(r.status, await r.text()); process.exit(r.ok ? 0 : 1) }, () => process.exit(1))' > healthz.txt 2>&1 && break; sleep 0.5; done
# Three watchdog intervals on the gateway's clock: a gateway that did not ping would be restarted.
active_since() { systemctl show -P ActiveEnterTimestampMonotonic fieldline-gateway; }
now_us() { awk '{ printf "%d", $1 * 1000000 }' /proc/uptime; }
systemctl is-active -q fieldline-gateway && for i in $(seq 1 120); do [ $(( $(now_us) - $(active_since) )) -gt $(( 3 * ${WATCHDOG_S} * 1000000 )) ] && break; sleep 0.5; done
systemctl show fieldline-gateway -p ActiveState -p SubState -p Type -p WatchdogUSec -p NRestarts -p StatusText -p NotifyAccess > show.txt
pid=$(systemctl show -P MainPID fieldline-gateway)
grep -E '^(Uid|Gid|Groups|NoNewPrivs|CapEff|CapBnd):' /proc/$pid/status > proc-status.txt
readlink /proc/$pid/exe > exe.txt
getent passwd fieldline > passwd.txt
id -nG fieldline > groups.txt
stat -c '%U %G %a %n' /var/lib/fieldline /etc/fieldline /etc/fieldline/gateway.yaml /opt/fieldline/dist/gateway/src/cli/main.js > stat.txt
ls /var/lib/fieldline/data > data.txt
readlink /etc/systemd/system/multi-user.target.wants/fieldline-gateway.service > wants.txt
systemd-analyze verify /etc/systemd/system/fieldline-gateway.service > verify.txt 2>&1; echo "exit $?" >> verify.txt
systemd-analyze security --no-pager fieldline-gateway > security.txt 2>&1
systemctl stop fieldline-gateway
systemctl show fieldline-gateway -p ActiveState -p Result > stopped.txt
journalctl -u fieldline-gateway --no-pager -o cat > journal.txt 2>&1
touch done
systemctl --no-block poweroff
`);
    await nspawn(['-D', root, '--as-pid2', '/bin/systemctl', 'enable', 'fieldline-check.service'], 60_000);
    boot = await nspawn(['-D', root, ...binds.slice(1), `--bind=${results}:/results`, '-b'], 4 * 60_000);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('install.sh runs as root in the fresh root and enables the unit', () => {
    assert.equal(install.code, 0, install.output);
    assert.match(install.output, /enabled fieldline-gateway.service/);
    assert.equal(read('wants.txt'), '/etc/systemd/system/fieldline-gateway.service');
  });

  it('it created the fieldline system user, without a shell, in dialout', () => {
    assert.ok(existsSync(join(results, 'done')), `the check unit did not finish:\n${boot.output.slice(-3000)}`);
    assert.match(read('passwd.txt'), /^fieldline:x:\d{3}:\d+::\/var\/lib\/fieldline:\/usr\/sbin\/nologin$/);
    assert.deepEqual(read('groups.txt').split(' ').sort(), ['dialout', 'fieldline']);
  });

  it('the state dir is the service user\'s alone, the config readable by it and not by others', () => {
    const stat = read('stat.txt').split('\n');
    assert.deepEqual(stat, [
      'fieldline fieldline 700 /var/lib/fieldline',
      'root fieldline 750 /etc/fieldline',
      'root fieldline 640 /etc/fieldline/gateway.yaml',
      'root root 644 /opt/fieldline/dist/gateway/src/cli/main.js',
    ]);
  });

  it('systemd starts the installed gateway as fieldline, sandboxed, and it answers /healthz', () => {
    assert.match(read('healthz.txt'), /^200 /, read('journal.txt'));
    const status = read('proc-status.txt');
    const uid = /^fieldline:x:(\d+):(\d+)/.exec(read('passwd.txt'))!;
    assert.match(status, new RegExp(`^Uid:\\s+${uid[1]}\\s+${uid[1]}\\s+${uid[1]}\\s+${uid[1]}$`, 'm'));
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^CapBnd:\s+0+$/m);
    assert.equal(read('exe.txt'), join(nodePrefix, 'bin', 'node'));
    assert.ok(read('data.txt').split('\n').includes('outbox.db'), read('data.txt'));
  });

  it('Type=notify: systemd saw READY=1, and WATCHDOG=1 pings kept it running for three watchdog intervals', () => {
    const show = read('show.txt');
    assert.match(show, /^Type=notify$/m);
    assert.match(show, /^ActiveState=active$/m);
    assert.match(show, /^SubState=running$/m);
    assert.match(show, new RegExp(`^WatchdogUSec=${WATCHDOG_S}s$`, 'm'));
    assert.match(show, /^NRestarts=0$/m);
    assert.match(show, /^StatusText=outbox \d+ readings, oldest \d+s/m);
  });

  it('the unit verifies inside the installed system, and stops cleanly on SIGTERM', () => {
    assert.match(read('verify.txt'), /exit 0$/, read('verify.txt'));
    assert.match(read('stopped.txt'), /ActiveState=inactive/);
    assert.match(read('stopped.txt'), /Result=success/);
    const score = /Overall exposure level for fieldline-gateway.service: ([\d.]+)/.exec(read('security.txt'));
    assert.ok(score, read('security.txt'));
    assert.ok(Number(score[1]) <= 3, `exposure ${score[1]}`);
  });
});
