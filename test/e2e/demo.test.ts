// `npm run demo -- --duration S` brings the whole system up, prints the URLs and a working API
// token, and ends with a summary in which nothing acknowledged was lost (issue 2, acceptance 1).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { freePort } from '../support/net.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

it('the demo runs simulated sensors end to end and reports sent = stored, lost 0', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-demo-'));
  const [kafka, mqtt, gw, api] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/demo.js'), '--sensors', '3', '--rate', '5', '--duration', '8',
    '--kafka-port', String(kafka), '--mqtt-port', String(mqtt), '--gateway-api-port', String(gw), '--api-port', String(api), '--dir', dir],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let tokenChecked = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /API token: (\S+)/.exec(out);
    if (m && !tokenChecked) {
      tokenChecked = true;
      // While it runs, the printed token opens the printed API.
      void fetch(`http://127.0.0.1:${api}/v1/devices`, { headers: { authorization: `Bearer ${m[1]}` } }).then((r) => {
        out += `\n[token check ${r.status}]\n`;
      });
    }
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, out);
  assert.match(out, new RegExp(`Cloud API\\s+http://localhost:${api}/v1/devices/`));
  assert.match(out, /\[token check 200\]/);
  const summary = /summary: sent (\d+) \/ stored (\d+) \/ quarantined (\d+) \/ lost (\d+) readings/.exec(out);
  assert.ok(summary, out);
  const [, sent, stored, , lost] = summary.map(Number);
  assert.ok(sent! > 100, `sent ${sent}`);
  assert.equal(stored, sent);
  assert.equal(lost, 0);
});
