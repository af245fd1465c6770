// The Grafana dashboards ask only for metrics the processes really expose: a real gateway (started
// in-process, scraped over HTTP) and the cloud API's /metrics (the same CloudMetrics registry the
// api and all roles serve).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TokenAuthority } from '../../cloud-sink/src/api/auth.js';
import { buildApi } from '../../cloud-sink/src/api/server.js';
import { CloudMetrics } from '../../cloud-sink/src/metrics.js';
import type { Store } from '../../cloud-sink/src/store/store.js';
import { repoRoot } from '../../devstack/net.js';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

const load = (name: string) => JSON.parse(readFileSync(join(repoRoot(), 'deploy/grafana', name), 'utf8')) as Dashboard;

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool']);

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords or labels. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => !m[2] && !KEYWORDS.has(m[1]!) && !/^\d/.test(m[1]!))
    .map((m) => m[1]!);
  return [...new Set(names)];
}

/** `# TYPE name kind` lines of a Prometheus exposition: name → kind. */
function exposed(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** A selected name is exposed as such, or as a histogram's or summary's _bucket/_sum/_count series. */
function isExposed(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!m) return false;
  const kind = types.get(m[1]!);
  return kind === 'histogram' || (kind === 'summary' && m[2] !== 'bucket');
}

function panels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
}

describe('Grafana dashboards', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-grafana-'));
  const token = 'grafana-test-token-0123456789';
  let gateway: Gateway;
  let gatewayMetrics = new Map<string, string>();
  let cloudMetrics = new Map<string, string>();

  before(async () => {
    const cfg = gatewayConfigSchema.parse({
      dataDir: dir, logLevel: 'silent', mqtt: { host: '127.0.0.1', port: 0 }, coap: { host: '127.0.0.1', port: 0 },
      api: { host: '127.0.0.1', port: 0, adminToken: token }, kafka: { brokers: '127.0.0.1:1' },
    });
    gateway = new Gateway(cfg);
    await gateway.start();
    const res = await fetch(`http://127.0.0.1:${gateway.apiPort}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    gatewayMetrics = exposed(await res.text());

    const metrics = new CloudMetrics(() => undefined);
    const api = buildApi({
      store: {} as Store,
      auth: new TokenAuthority('grafana-test-secret-0123456789abcdef'),
      maxLimit: 1000,
      health: () => ({ ok: true, detail: {} }),
      metrics: () => metrics.render(),
      counters: metrics,
    });
    const scrape = await api.inject({ method: 'GET', url: '/metrics' });
    assert.equal(scrape.statusCode, 200);
    cloudMetrics = exposed(scrape.body);
    await api.close();
  });

  after(async () => {
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the PromQL reader finds metric names and skips functions, keywords, labels and ranges', () => {
    assert.deepEqual(metricNames('sum by (stage, reason) (rate(fieldline_cloud_dropped_total{instance=~"$instance", stage="x"}[$__rate_interval]))'), ['fieldline_cloud_dropped_total']);
    assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(http_duration_seconds_bucket[5m]))) / on (job) up'), ['http_duration_seconds_bucket', 'up']);
    assert.ok(isExposed('h_bucket', new Map([['h', 'histogram']])));
    assert.ok(!isExposed('c_bucket', new Map([['c', 'counter']])));
  });

  for (const [file, which] of [['gateway.json', 'gateway'], ['cloud.json', 'cloud']] as const) {
    it(`${file} is a Grafana dashboard with a Prometheus datasource variable that every panel uses`, () => {
      const d = load(file);
      assert.ok(d.uid && d.title && d.schemaVersion >= 36);
      const ds = d.templating.list.find((v) => v.type === 'datasource');
      assert.equal(ds?.query, 'prometheus');
      const ps = panels(d);
      assert.ok(ps.length >= 8, `${ps.length} panels`);
      for (const p of ps) {
        assert.deepEqual(p.datasource, { type: 'prometheus', uid: `\${${ds!.name}}` }, p.title);
        assert.ok(p.targets?.length, p.title);
        for (const t of p.targets!) assert.equal(metricNames(t.expr).length > 0, true, `${p.title}: ${t.expr}`);
      }
    });

    it(`every metric ${file} asks for is exposed by the real ${which}`, () => {
      const types = which === 'gateway' ? gatewayMetrics : cloudMetrics;
      assert.ok(types.size > 10, 'the scrape found metrics');
      const d = load(file);
      const missing = panels(d).flatMap((p) => p.targets!.flatMap((t) => metricNames(t.expr).filter((n) => !isExposed(n, types)).map((n) => `${p.title}: ${n}`)));
      assert.deepEqual(missing, []);
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
        const name = /label_values\((\w+),/.exec(q)?.[1];
        assert.ok(name && isExposed(name, types), q);
      }
    });
  }
});
