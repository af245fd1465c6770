// Issue 12's acceptance 3 in a real browser (Debian's Chromium driven by playwright-core) against a
// real cloud: a Kafka broker in KRaft, the cloud in the `all` role on the embedded TimescaleDB
// (sink, fleet workers, alert evaluator, API serving the built dashboard), fed heartbeats and
// readings through Kafka as gateways send them. The operator signs in with a token, watches a
// gateway go offline and come back among 1,000 others, zooms a device chart, acknowledges an alert
// and creates a rule through the form. Screenshots of each step go to test-artifacts/dashboard/.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { encodeBatch, encodeHeartbeat, type Heartbeat, type Reading } from '../../proto/src/wire.js';
import { heartbeat, TestProducer } from '../fleet/support.js';

const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
const root = join(import.meta.dirname, '..', '..', '..');
const shots = join(root, 'test-artifacts', 'dashboard');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const SEEDED_GATEWAYS = 1_000;
const DEVICES_PER_GATEWAY = 10;
const GW = 'gw-dash';
const DEV = 'boiler-1';
const HOUR = 3_600_000;

/** A heartbeat of a gateway with nothing wrong that says it beats every `intervalMs`. */
function healthy(gatewayId: string, intervalMs: number, over: Partial<Heartbeat> = {}): Heartbeat {
  return heartbeat(gatewayId, Date.now(), {
    intervalMs,
    firmwareVersion: '2.4.1',
    outboxDepth: 12,
    outboxOldestAgeMs: 800,
    adapters: [{ name: 'mqtt', state: 'up', detail: '10 clients', counters: {} }],
    loss: { rateLimited: 0, quarantined: 0, evicted: 0 },
    deviceLoss: {},
    refusals: {},
    ...over,
  });
}

describe('the operators dashboard in a browser, against a real cloud (issue 12 acceptance 3)', () => {
  let dir: string;
  let kafka: KafkaBroker;
  let cloud: Cloud;
  let producer: TestProducer;
  /** The heartbeats of gw-dash, on their own producer: TestProducer.send counts one caller at a time. */
  let beats: TestProducer;
  let browser: Browser;
  let page: Page;
  let base: string;
  let operator: string;
  let seq = 0;
  let beating: NodeJS.Timeout | undefined;
  const aggregateRequests: URL[] = [];

  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${operator}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async function sendReadings(gatewayId: string, readings: Reading[]): Promise<void> {
    const batches = [];
    for (let i = 0; i < readings.length; i += 500) batches.push(encodeBatch({ gatewayId, seq: ++seq, createdMs: Date.now(), readings: readings.slice(i, i + 500) }));
    await producer.send('iot.readings', batches);
  }

  function startBeating(): void {
    const beat = (): void => void beats.send('iot.heartbeats', [encodeHeartbeat(healthy(GW, 1_000, { firmwareVersion: '3.0.2' }))]).catch(() => undefined);
    beat();
    beating = setInterval(beat, 500);
  }

  function stopBeating(): void {
    clearInterval(beating);
    beating = undefined;
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
  }

  /** The device routes (GET /v1/devices/{id}, …/latest, …/aggregates) are another part of issue 12; without them the device steps are skipped. */
  let deviceRoutes = false;

  before(async () => {
    const started = Date.now();
    mkdirSync(shots, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'fieldline-dash-'));
    kafka = await startKafka({ topics: [...FIELDLINE_TOPICS] });
    cloud = new Cloud(
      cloudConfigSchema.parse({
        dataDir: join(dir, 'cloud'),
        kafka: { brokers: kafka.bootstrap, sessionTimeoutMs: 6_000 },
        api: { host: '127.0.0.1', port: 0 },
        aggregates: { embeddedRefreshMs: 1_000 },
        lake: { enabled: false },
        fleet: { quarantine: { enabled: false }, aggregates: { enabled: false }, health: { defaultIntervalMs: 1_000 } },
        alerts: { tickMs: 200, checkpointMs: 200, relayIntervalMs: 100 },
      }),
      'all',
      quiet,
    );
    await cloud.start();
    base = `http://127.0.0.1:${cloud.apiPort}`;
    operator = await cloud.auth.issue({ subject: 'ops@example.com', role: 'operator', ttlSeconds: 3600 });
    producer = await TestProducer.connect(kafka.bootstrap);
    beats = await TestProducer.connect(kafka.bootstrap);

    // 1,000 gateways with 10 devices each (10,000 devices), most online, some degraded or offline.
    const now = Date.now();
    const seeded = [];
    for (let g = 0; g < SEEDED_GATEWAYS; g++) {
      const id = `site-${String(g).padStart(4, '0')}`;
      if (g % 50 === 7) seeded.push(encodeHeartbeat(healthy(id, 1_000)));
      else if (g % 25 === 3) seeded.push(encodeHeartbeat(healthy(id, HOUR, { outboxDepth: 40_000, outboxOldestAgeMs: 900_000 })));
      else seeded.push(encodeHeartbeat(healthy(id, HOUR, { outboxDepth: g % 17, firmwareVersion: g % 3 ? '2.4.1' : '2.5.0' })));
    }
    // In hundreds: TestProducer waits 10 s for delivery reports, and a loaded machine is slow.
    for (let i = 0; i < seeded.length; i += 100) await producer.send('iot.heartbeats', seeded.slice(i, i + 100));
    for (let g = 0; g < SEEDED_GATEWAYS; g += 50) {
      const batches = [];
      for (let h = g; h < g + 50; h++) {
        const readings = Array.from({ length: DEVICES_PER_GATEWAY }, (_, d) => ({ deviceId: `site-${String(h).padStart(4, '0')}-dev-${d}`, tsMs: now - 60_000, metrics: { temperature: 20 + d } }));
        batches.push(encodeBatch({ gatewayId: `site-${String(h).padStart(4, '0')}`, seq: 1, createdMs: now, readings }));
      }
      await producer.send('iot.readings', batches);
    }

    // The device the chart shows: six hours of a reading every 15 s, two metrics, with some jitter
    // so each minute's min and max differ and the band shows.
    const history: Reading[] = [];
    for (let t = now - 6 * HOUR; t <= now - 60_000; t += 15_000) {
      const phase = ((t % (2 * HOUR)) / (2 * HOUR)) * 2 * Math.PI;
      const jitter = Math.sin(t * 0.0137) * Math.cos(t * 0.0071);
      history.push({ deviceId: DEV, tsMs: t, metrics: { temperature: 60 + 8 * Math.sin(phase) + 1.5 * Math.sin(t / 420_000) + 1.2 * jitter, pressure: 2 + 0.3 * Math.cos(phase) + 0.04 * jitter } });
    }
    await sendReadings(GW, history);
    startBeating();

    const latest = await call<{ error?: { code: string } }>('GET', `/v1/devices/${DEV}/latest`);
    deviceRoutes = !(latest.status === 404 && latest.body.error?.code === 'FL_ERR_API_NOT_FOUND');
    console.log(`# dashboard: cloud started and seeded in ${Date.now() - started} ms; device routes ${deviceRoutes ? 'present' : 'missing'}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage({ viewport: { width: 1366, height: 820 } });
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.endsWith('/aggregates')) aggregateRequests.push(u);
    });
    page.on('dialog', (d) => void d.accept());
  });

  after(async () => {
    const started = Date.now();
    stopBeating();
    await browser?.close();
    await producer?.close();
    await beats?.close();
    await cloud?.stop();
    await kafka?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`# dashboard: stopped in ${Date.now() - started} ms`);
  });

  it('signs in with a pasted token, showing its subject, role and expiry before it is used', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('API token').fill(operator);
    const claims = page.getByLabel('Token claims');
    await claims.getByText('ops@example.com').waitFor();
    await claims.getByText('operator', { exact: true }).waitFor();
    await shot('01-login');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('fieldline.token')), operator, 'the token is kept in this tab only');
  });

  it('lists 1,001 gateways with only the visible rows in the DOM, and finds one by filter', async () => {
    const summary = page.locator('.summary');
    await waitUntil(async () => /^1,?001 gateways/.test((await summary.textContent()) ?? ''), { what: 'all 1,001 gateways in the overview', timeoutMs: 60_000 });
    const rows = await page.locator('.grid-row').count();
    assert.ok(rows > 10 && rows < 80, `${rows} rows in the DOM for 1,001 gateways: only the visible window is rendered`);
    // Sorted by status first: the offline and degraded ones lead.
    assert.equal(await page.locator('.grid-row').first().locator('.status').textContent(), 'offline');
    await shot('02-fleet');
    // Sorting by gateway id and scrolling to the bottom shows the last one.
    await page.getByRole('button', { name: /^Gateway/ }).click();
    await page.locator('.grid-body').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.locator('[data-gateway="site-0999"]').waitFor();
    const t0 = performance.now();
    await page.getByLabel('Filter').fill(GW);
    await page.locator(`[data-gateway="${GW}"]`).waitFor();
    await waitUntil(async () => (await page.locator('.grid-row').count()) === 1, { what: 'the filter leaves one row', timeoutMs: 10_000 });
    console.log(`# dashboard: filtering 1,001 gateways to one took ${Math.round(performance.now() - t0)} ms (browser round trip included)`);
  });

  it('shows the gateway go offline when its heartbeats stop, with the reason, and online again when they resume', async () => {
    const row = page.locator(`[data-gateway="${GW}"]`);
    await row.locator('.status.online').waitFor({ timeout: 30_000 });
    stopBeating();
    await row.locator('.status.offline').waitFor({ timeout: 60_000 });
    assert.match((await row.locator('.reasons').textContent()) ?? '', /no heartbeat for/);
    await shot('03-gateway-offline');
    startBeating();
    await row.locator('.status.online').waitFor({ timeout: 60_000 });
    await shot('04-gateway-online');
  });

  it('opens the gateway and its device, draws a chart per metric, and a drag on the chart refetches a narrower range that is drawn', async (t) => {
    await page.locator(`[data-gateway="${GW}"] a`).click();
    await page.getByRole('heading', { name: GW }).waitFor();
    await page.getByRole('link', { name: DEV }).waitFor();
    await shot('05-gateway-detail');
    if (!deviceRoutes) return t.skip('GET /v1/devices/{id}/latest and …/aggregates are not in this build');
    await page.getByRole('link', { name: DEV }).click();
    const panel = page.locator('[data-metric="temperature"]');
    await waitUntil(async () => Number(await panel.getAttribute('data-points')) > 10, { what: 'the temperature chart has points', timeoutMs: 30_000 });
    await page.locator('[data-metric="pressure"]').waitFor();
    await page.getByRole('button', { name: '24h' }).waitFor();
    const before = { from: Number(await panel.getAttribute('data-from')), to: Number(await panel.getAttribute('data-to')) };
    await shot('06-device');

    const requestsBefore = aggregateRequests.length;
    const over = panel.locator('.u-over');
    await over.scrollIntoViewIfNeeded();
    const box = (await over.boundingBox())!;
    const y = box.y + box.height / 2;
    // The last six hours of a 24 h range are the right quarter of the plot; select most of them.
    await page.mouse.move(box.x + box.width * 0.8, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.9, y, { steps: 5 });
    await page.mouse.move(box.x + box.width * 0.98, y, { steps: 5 });
    await page.mouse.up();

    await waitUntil(async () => Number(await panel.getAttribute('data-from')) > before.from, { what: 'the range narrowed after the drag', timeoutMs: 10_000 });
    const after = { from: Number(await panel.getAttribute('data-from')), to: Number(await panel.getAttribute('data-to')) };
    assert.ok(after.to - after.from < (before.to - before.from) / 4, `zoomed from ${before.to - before.from} ms to ${after.to - after.from} ms`);
    const refetch = aggregateRequests.slice(requestsBefore).find((u) => u.searchParams.get('metric') === 'temperature');
    assert.ok(refetch, 'the drag refetched the aggregates');
    assert.equal(Date.parse(refetch.searchParams.get('from')!), after.from);
    assert.equal(Date.parse(refetch.searchParams.get('to')!), after.to);
    assert.equal(refetch.searchParams.get('bucket'), null, 'the server chooses the bucket from the range');
    await waitUntil(async () => Number(await panel.getAttribute('data-points')) > 10, { what: 'points in the zoomed range', timeoutMs: 30_000 });
    // Points are drawn: the plot's canvas holds the average line's colour.
    const drawn = (await page.evaluate(`(() => {
      const c = document.querySelector('[data-metric="temperature"] canvas');
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let blue = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i + 2] > 150 && px[i] < 80 && px[i + 3] > 200) blue++;
      return blue;
    })()`)) as number;
    assert.ok(drawn > 200, `${drawn} line pixels drawn on the zoomed chart`);
    assert.equal(await page.getByRole('button', { name: 'Reset zoom' }).isEnabled(), true);
    await shot('07-device-zoomed');
  });

  it('lets an operator edit the device metadata (name, type, location, tags), saved through PATCH /v1/devices/{id}', async (t) => {
    if (!deviceRoutes) return t.skip('GET|PATCH /v1/devices/{id} are not in this build');
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Name').fill('Boiler 1');
    await page.getByLabel('Type').fill('boiler');
    await page.getByLabel('Location').fill('pump house 2');
    await page.getByLabel(/^Tags/).fill('site=north, floor=2');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: `Boiler 1 (${DEV})` }).waitFor();
    const stored = await call<{ name: string; type: string; location: { label?: string } | null; tags: Record<string, string> }>('GET', `/v1/devices/${DEV}`);
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    assert.deepEqual(
      { name: stored.body.name, type: stored.body.type, location: stored.body.location?.label, tags: stored.body.tags },
      { name: 'Boiler 1', type: 'boiler', location: 'pump house 2', tags: { site: 'north', floor: '2' } },
    );
  });

  it('shows an alert fired by a rule and its readings, and acknowledges it', async () => {
    const created = await call<{ id: string }>('POST', '/v1/rules', {
      name: 'boiler overheating', kind: 'threshold', target: { device: DEV, metric: 'temperature' }, params: { op: 'above', value: 90, clear: 85 }, severity: 'critical', enabled: true,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    let alertId: string | undefined;
    await waitUntil(
      async () => {
        await sendReadings(GW, [{ deviceId: DEV, tsMs: Date.now(), metrics: { temperature: 97.5, pressure: 2.4 } }]);
        const r = await call<{ alerts: { id: string; rule_id: string }[] }>('GET', '/v1/alerts?state=firing');
        alertId = r.body.alerts.find((a) => a.rule_id === created.body.id)?.id;
        return alertId !== undefined;
      },
      { what: 'the rule fired on a reading over its level', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    await page.getByRole('link', { name: 'Alerts' }).click();
    const row = page.locator(`[data-alert="${alertId}"]`);
    await row.waitFor({ timeout: 30_000 });
    await row.getByText('critical').waitFor();
    await shot('08-alerts');
    await row.getByRole('button', { name: /^Acknowledge/ }).click();
    await row.getByText('by ops@example.com').waitFor();
    const stored = await call<{ acked_by: string | null; acked_at: string | null }>('GET', `/v1/alerts/${encodeURIComponent(alertId!)}`);
    assert.equal(stored.body.acked_by, 'ops@example.com');
    assert.ok(stored.body.acked_at);
    await shot('09-alert-acked');
  });

  it('creates a rule through the form, showing the API refusal inline first', async () => {
    await page.getByRole('link', { name: 'Rules' }).click();
    await page.getByRole('button', { name: 'New rule' }).click();
    const form = page.getByRole('form', { name: 'New rule' });
    await form.getByLabel('Name').fill('pressure low');
    await form.getByLabel('Kind').selectOption('threshold');
    await form.getByLabel('Severity').selectOption('warning');
    await form.getByLabel('Device', { exact: true }).fill(DEV);
    await form.getByLabel('Metric').fill('pressure');
    await form.getByLabel('Parameters (JSON)').fill('{"op": "sideways", "value": 1.5}');
    await form.getByRole('button', { name: 'Create rule' }).click();
    const refusal = form.getByRole('alert');
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? '', /FL_ERR_API_BAD_RULE/);
    await shot('10-rule-refused');
    await form.getByLabel('Parameters (JSON)').fill('{"op": "below", "value": 1.5, "clear": 1.7}');
    await form.getByRole('button', { name: 'Create rule' }).click();
    await page.getByRole('status').getByText(/Created rule "pressure low"/).waitFor();
    const rules = await call<{ rules: { id: string; name: string; kind: string; target: Record<string, string>; params: Record<string, unknown>; severity: string; enabled: boolean }[] }>('GET', '/v1/rules');
    const rule = rules.body.rules.find((r) => r.name === 'pressure low');
    assert.ok(rule, JSON.stringify(rules.body));
    assert.deepEqual(
      { kind: rule.kind, target: rule.target, op: rule.params.op, value: rule.params.value, clear: rule.params.clear, severity: rule.severity, enabled: rule.enabled },
      { kind: 'threshold', target: { device: DEV, metric: 'pressure' }, op: 'below', value: 1.5, clear: 1.7, severity: 'warning', enabled: true },
    );
    await page.locator(`[data-rule="${rule.id}"]`).waitFor();
    await shot('11-rules');
  });

  it('returns to the login screen with the reason when the API answers 401', async () => {
    const expired = await cloud.auth.issue({ subject: 'ops@example.com', role: 'operator', ttlSeconds: -60 });
    await page.evaluate((t) => sessionStorage.setItem('fieldline.token', t), expired);
    await page.goto(`${base}/#/gateways`);
    const reason = page.getByRole('alert');
    await reason.waitFor();
    assert.match((await reason.textContent()) ?? '', /token expired.*FL_ERR_AUTH_INVALID/);
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('fieldline.token')), null);
    await shot('12-signed-out');
  });
});
