// `npm run demo -- --duration S` brings the whole system up, prints the URLs and a working API
// token, and ends with a summary in which nothing acknowledged was lost (issue 2, acceptance 1).
// While it runs, both /metrics carry the runtime's process metrics on Node 24 and the stage
// counters (issue 9, acceptance 2). It keeps its Parquet lake on disk and names the folder (issue 10).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { freePort } from '../../devstack/net.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

it('the demo runs simulated sensors end to end and reports sent = stored, lost 0', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-demo-'));
  const [kafka, mqtt, gw, api] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/demo.js'), '--sensors', '3', '--rate', '5', '--duration', '8',
    '--kafka-port', String(kafka), '--mqtt-port', String(mqtt), '--gateway-api-port', String(gw), '--api-port', String(api), '--dir', dir],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let tokenChecked = false;
  const scraped: { gateway?: string; cloud?: string } = {};
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /API token: (\S+)/.exec(out);
    const local = /Gateway local API\s+\S+\s+\(Authorization: Bearer (\S+)\)/.exec(out);
    if (m && local && !tokenChecked) {
      tokenChecked = true;
      // While it runs, the printed token opens the printed API.
      void fetch(`http://127.0.0.1:${api}/v1/devices`, { headers: { authorization: `Bearer ${m[1]}` } }).then((r) => {
        out += `\n[token check ${r.status}]\n`;
      });
      // Once readings have flowed for a few seconds, scrape both /metrics.
      setTimeout(() => {
        void Promise.all([
          fetch(`http://127.0.0.1:${gw}/metrics`, { headers: { authorization: `Bearer ${local[1]}` } }).then((r) => r.text()),
          fetch(`http://127.0.0.1:${api}/metrics`).then((r) => r.text()),
        ]).then(([g, c]) => Object.assign(scraped, { gateway: g, cloud: c }), (err: Error) => (out += `\n[metrics scrape failed: ${err.message}]\n`));
      }, 4_000);
    }
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  // The lake stays on disk, in the folder the demo names; a clean stop writes out what it buffered.
  const lake = /^Lake: (.+)$/m.exec(out)?.[1];
  const parquet = lake ? (readdirSync(join(lake, 'readings'), { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')) : [];
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, out);
  assert.match(out, new RegExp(`Cloud API\\s+http://localhost:${api}/v1/devices/`));
  assert.match(out, /\[token check 200\]/);
  assert.equal(lake, join(dir, 'cloud', 'lake'), out);
  assert.ok(parquet.length > 0, `Parquet files in the lake: ${parquet.join(', ')}`);
  const summary = /summary: sent (\d+) \/ stored (\d+) \/ quarantined (\d+) \/ lost (\d+) readings/.exec(out);
  assert.ok(summary, out);
  const [, sent, stored, , lost] = summary.map(Number);
  assert.ok(sent! > 100, `sent ${sent}`);
  assert.equal(stored, sent);
  assert.equal(lost, 0);

  assert.ok(scraped.gateway !== undefined && scraped.cloud !== undefined, `both /metrics scraped\n${out}`);
  const major = process.versions.node.split('.')[0];
  for (const [side, text] of [['gateway', scraped.gateway], ['cloud', scraped.cloud]] as const) {
    assert.match(text, new RegExp(`^nodejs_version_info\\{version="v${major}\\.`, 'm'), `${side} /metrics names the Node version`);
    assert.match(text, /^process_resident_memory_bytes [1-9]\d*/m, `${side} /metrics has the resident memory`);
  }
  assert.ok(Number(major) >= 24, `the demo ran on Node ${process.version}`);
  assert.match(scraped.gateway, /^fieldline_gateway_received_total\{stage="ingest"\} [1-9]\d*$/m);
  assert.match(scraped.gateway, /^fieldline_gateway_sent_total\{stage="commit"\} [1-9]\d*$/m);
  assert.match(scraped.cloud, /^fieldline_cloud_received_total\{stage="consume"\} [1-9]\d*$/m);
  assert.match(scraped.cloud, /^fieldline_cloud_sent_total\{stage="store"\} [1-9]\d*$/m);
  assert.match(scraped.cloud, /^fieldline_cloud_received_total\{stage="lake"\} [1-9]\d*$/m, 'the lake consumes beside the store');
  assert.match(scraped.cloud, /^# TYPE fieldline_cloud_errors_total counter$/m);
});
