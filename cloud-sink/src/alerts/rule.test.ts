// The rule model (rule.ts): what a POST/PUT body may be for each kind, how each refusal names its
// path, and how targets match devices and gateways.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globMatcher, parseRule, RULE_KINDS, ruleView, targetKey, targetsDevice, targetsGateway, type Rule } from './rule.js';

function ok(body: unknown, id = 'r_test', version = 1): Rule {
  const r = parseRule(body, id, version);
  assert.ok(r.ok, `accepted: ${JSON.stringify(r.ok ? '' : r.problems)}`);
  return r.rule;
}

function problems(body: unknown, id = 'r_test'): string[] {
  const r = parseRule(body, id, 1);
  assert.ok(!r.ok, `refused: ${JSON.stringify(body)}`);
  return r.problems;
}

/** Asserts one problem starts with `path: ` and, when given, mentions `words`. */
function hasProblem(list: string[], path: string, words?: RegExp): void {
  const hit = list.find((p) => p.startsWith(`${path}: `) && (!words || words.test(p)));
  assert.ok(hit, `a problem at ${path}${words ? ` matching ${words}` : ''} in ${JSON.stringify(list)}`);
}

describe('parseRule accepts a good body of every kind, with its defaults filled in', () => {
  const good: Record<(typeof RULE_KINDS)[number], { body: Record<string, unknown>; params: Record<string, unknown> }> = {
    threshold: {
      body: { name: 'hot', kind: 'threshold', target: { device: 'pump-1', metric: 'temperature' }, params: { op: 'above', value: 30, clear: 28, for_s: 60 } },
      params: { op: 'above', value: 30, clear: 28, for_s: 60 },
    },
    rate: {
      body: { name: 'climbing', kind: 'rate', target: { device_pattern: 'pump-*', metric: 'pressure' }, params: { op: 'above', value: 0.5, window_s: 120 } },
      params: { op: 'above', value: 0.5, window_s: 120 },
    },
    absence: { body: { name: 'silent', kind: 'absence', target: { device: 'pump-1' }, params: { for_s: 300 } }, params: { for_s: 300 } },
    gateway_offline: { body: { name: 'gone', kind: 'gateway_offline', target: { gateway: 'gw-1' } }, params: { intervals: 3 } },
    gateway_degraded: { body: { name: 'strained', kind: 'gateway_degraded', params: { max_cpu_pct: 90, adapters: true } }, params: { max_cpu_pct: 90, adapters: true } },
    quality: { body: { name: 'noisy', kind: 'quality', target: { gateway: 'gw-1' }, params: { max_quarantined_pct: 10 } }, params: { max_quarantined_pct: 10, window_s: 300, min_readings: 20 } },
    anomaly: { body: { name: 'odd', kind: 'anomaly', target: { metric: 'vibration' } }, params: { z: 4, alpha: 0.05, warmup: 30 } },
  };
  for (const kind of RULE_KINDS) {
    it(`a ${kind} rule`, () => {
      const { body, params } = good[kind];
      const rule = ok(body, 'r_k', 7);
      assert.equal(rule.id, 'r_k');
      assert.equal(rule.kind, kind);
      assert.equal(rule.version, 7);
      assert.deepEqual(rule.params, params);
      assert.equal(rule.severity, 'warning', 'severity defaults to warning');
      assert.equal(rule.enabled, true, 'enabled by default');
      assert.equal('webhook' in rule, false, 'no webhook unless given');
    });
  }

  it('keeps a webhook with its secret, and a below threshold whose clear is above value', () => {
    const rule = ok({
      name: 'cold', kind: 'threshold', target: { gateway: 'gw-2', metric: 't' }, params: { op: 'below', value: 2, clear: 4 },
      severity: 'critical', enabled: false, webhook: { url: 'https://hooks.example/fieldline', secret: 's'.repeat(16) },
    });
    assert.deepEqual(rule.webhook, { url: 'https://hooks.example/fieldline', secret: 's'.repeat(16) });
    assert.equal(rule.severity, 'critical');
    assert.equal(rule.enabled, false);
  });

  it('takes a body id equal to the path id (a PUT of what GET returned)', () => {
    assert.equal(ok({ id: 'r_same', name: 'n', kind: 'gateway_offline' }, 'r_same').id, 'r_same');
  });
});

describe('parseRule refuses a bad body, naming the path of every problem', () => {
  it('a body that is no object', () => hasProblem(problems('threshold'), '(body)', /expected object/));
  it('an unknown top-level key', () => hasProblem(problems({ name: 'n', kind: 'absence', params: { for_s: 5 }, colour: 'red' }), '(body)', /colour/));
  it('a missing name', () => hasProblem(problems({ kind: 'absence', params: { for_s: 5 } }), 'name'));
  it('an unknown kind', () => hasProblem(problems({ name: 'n', kind: 'sometimes' }), 'kind', /threshold/));
  it('a bad severity', () => hasProblem(problems({ name: 'n', kind: 'gateway_offline', severity: 'meh' }), 'severity'));
  it('a threshold without a metric', () => hasProblem(problems({ name: 'n', kind: 'threshold', params: { op: 'above', value: 1 } }), 'target.metric', /needs a metric/));
  it('a device and a device_pattern together', () =>
    hasProblem(problems({ name: 'n', kind: 'absence', target: { device: 'a', device_pattern: 'a*' }, params: { for_s: 5 } }), 'target', /not both/));
  it('a gateway rule aimed at a device', () => hasProblem(problems({ name: 'n', kind: 'gateway_offline', target: { device: 'd' } }), 'target', /targets a gateway/));
  it('a threshold without value', () => hasProblem(problems({ name: 'n', kind: 'threshold', target: { metric: 'm' }, params: { op: 'above' } }), 'params.value'));
  it('a threshold with an unknown op', () => hasProblem(problems({ name: 'n', kind: 'threshold', target: { metric: 'm' }, params: { op: 'over', value: 1 } }), 'params.op'));
  it('an unknown param', () => hasProblem(problems({ name: 'n', kind: 'absence', params: { for_s: 5, grace: 1 } }), 'params', /grace/));
  it('a for_s beyond a day', () =>
    hasProblem(problems({ name: 'n', kind: 'threshold', target: { metric: 'm' }, params: { op: 'above', value: 1, for_s: 90_000 } }), 'params.for_s'));
  it('a rate without window_s', () => hasProblem(problems({ name: 'n', kind: 'rate', target: { metric: 'm' }, params: { op: 'above', value: 1 } }), 'params.window_s'));
  it('a quality share over 100', () => hasProblem(problems({ name: 'n', kind: 'quality', params: { max_quarantined_pct: 101 } }), 'params.max_quarantined_pct'));
  it('an anomaly alpha of 1', () => hasProblem(problems({ name: 'n', kind: 'anomaly', target: { metric: 'm' }, params: { alpha: 1 } }), 'params.alpha'));
  it('a webhook that is not http(s)', () => hasProblem(problems({ name: 'n', kind: 'gateway_offline', webhook: { url: 'ftp://x.example/' } }), 'webhook.url', /http or https/));
  it('a webhook secret under 16 characters', () =>
    hasProblem(problems({ name: 'n', kind: 'gateway_offline', webhook: { url: 'https://x.example/', secret: 'short' } }), 'webhook.secret', /16/));
  it('a body id other than the path id', () => hasProblem(problems({ id: 'r_other', name: 'n', kind: 'gateway_offline' }, 'r_path'), 'id', /r_other.*r_path/));

  // zod runs the cross-field checks (target against kind, the kind's params) only once the body has
  // its shape, so a body wrong in both ways is told about the shape first.
  it('lists every shape problem at once, not only the first', () => {
    const list = problems({ kind: 'threshold', severity: 'meh', webhook: { url: 'ftp://x' } });
    for (const path of ['name', 'severity', 'webhook.url']) hasProblem(list, path);
  });

  it('lists every target and params problem at once', () => {
    const list = problems({ name: 'n', kind: 'threshold', target: { device: 'a', device_pattern: 'b*' }, params: { op: 'over' } });
    for (const path of ['target', 'target.metric', 'params.op', 'params.value']) hasProblem(list, path);
  });
});

describe('hysteresis: a clear level on the wrong side of value is refused', () => {
  const base = { name: 'n', target: { metric: 'm' } };
  it('threshold "above" with clear over value', () => hasProblem(problems({ ...base, kind: 'threshold', params: { op: 'above', value: 30, clear: 31 } }), 'params.clear', /resolving side/));
  it('threshold "below" with clear under value', () => hasProblem(problems({ ...base, kind: 'threshold', params: { op: 'below', value: 5, clear: 4 } }), 'params.clear', /resolving side/));
  it('rate "above" with clear over value', () => hasProblem(problems({ ...base, kind: 'rate', params: { op: 'above', value: 1, clear: 2, window_s: 60 } }), 'params.clear'));
  it('anomaly with clear_z over z', () => hasProblem(problems({ ...base, kind: 'anomaly', params: { z: 3, clear_z: 4 } }), 'params.clear_z', /at most z/));
  it('a clear equal to value is accepted (no hysteresis band)', () => {
    assert.equal((ok({ ...base, kind: 'threshold', params: { op: 'above', value: 30, clear: 30 } }).params as { clear?: number }).clear, 30);
  });
});

describe('targets', () => {
  it('a glob matches * as any run and ? as one character, everything else literally', () => {
    const pumps = globMatcher('pump-*');
    assert.equal(pumps('pump-1'), true);
    assert.equal(pumps('pump-'), true);
    assert.equal(pumps('pump'), false);
    assert.equal(pumps('xpump-1'), false, 'anchored at the start');
    const one = globMatcher('line-?');
    assert.equal(one('line-7'), true);
    assert.equal(one('line-77'), false, 'anchored at the end');
    const dots = globMatcher('a.b+(c)');
    assert.equal(dots('a.b+(c)'), true);
    assert.equal(dots('axbb(c)'), false, 'regex characters are literal');
    assert.equal(globMatcher('*')('odd\nid'), true, '* spans any character');
  });

  it('a device rule names a device, a pattern or every device, within its gateway if it names one', () => {
    const rule = ok({ name: 'n', kind: 'absence', target: { gateway: 'gw-1', device_pattern: 'pump-*' }, params: { for_s: 5 } });
    assert.equal(targetsDevice(rule, 'gw-1', 'pump-3'), true);
    assert.equal(targetsDevice(rule, 'gw-2', 'pump-3'), false);
    assert.equal(targetsDevice(rule, 'gw-1', 'valve-3'), false);
    const one = ok({ name: 'n', kind: 'absence', target: { device: 'pump-3' }, params: { for_s: 5 } });
    assert.equal(targetsDevice(one, 'any-gw', 'pump-3'), true);
    assert.equal(targetsDevice(one, 'any-gw', 'pump-30'), false);
    assert.equal(targetsDevice(ok({ name: 'n', kind: 'absence', params: { for_s: 5 } }), 'gw', 'x'), true);
  });

  it('a gateway rule names one gateway or all', () => {
    assert.equal(targetsGateway(ok({ name: 'n', kind: 'gateway_offline', target: { gateway: 'gw-1' } }), 'gw-1'), true);
    assert.equal(targetsGateway(ok({ name: 'n', kind: 'gateway_offline', target: { gateway: 'gw-1' } }), 'gw-2'), false);
    assert.equal(targetsGateway(ok({ name: 'n', kind: 'gateway_offline' }), 'gw-9'), true);
  });

  it('targetKey tells apart targets whose parts would run together, and can be stored as text', () => {
    assert.notEqual(targetKey({ gateway: 'a', device: 'bc' }), targetKey({ gateway: 'ab', device: 'c' }));
    assert.equal(targetKey({ device: 'd', metric: 'm' }), targetKey({ metric: 'm', device: 'd' }));
    assert.equal(/\u0000/.test(targetKey({ gateway: 'g', device: 'd', metric: 'm' })), false, 'no NUL: alerts.target_key is text, which cannot hold one');
  });
});

describe('ruleView', () => {
  it('never shows the webhook secret, only whether there is one', () => {
    const withSecret = ok({ name: 'n', kind: 'gateway_offline', webhook: { url: 'https://x.example/', secret: 'k'.repeat(20) } });
    const view = ruleView(withSecret);
    assert.deepEqual(view.webhook, { url: 'https://x.example/', has_secret: true });
    assert.equal(JSON.stringify(view).includes('k'.repeat(20)), false);
    assert.equal(view.version, 1);
    assert.deepEqual(ruleView(ok({ name: 'n', kind: 'gateway_offline', webhook: { url: 'https://x.example/' } })).webhook, { url: 'https://x.example/', has_secret: false });
  });
});
