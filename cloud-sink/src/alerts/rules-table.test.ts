// The rules table's merge of what the topic carries (no broker here: messages are fed to apply()
// as the consumer would; test/alerts/rules.test.ts runs it against Kafka).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Rule } from './rule.js';
import { ruleMessage } from './rules-publisher.js';
import { RulesTable } from './rules-table.js';

function rule(id: string, version: number, over: Partial<Rule> = {}): Rule {
  return { id, name: `rule ${id}`, kind: 'gateway_offline', target: {}, params: { intervals: 3 }, severity: 'warning', enabled: true, version, ...over } as Rule;
}

function table(): { t: RulesTable; seen: [string, number | null][] } {
  const t = new RulesTable({ kafka: { brokers: '127.0.0.1:1', sessionTimeoutMs: 10_000, rdkafka: {} }, topic: 'iot.rules', log: pino({ level: 'silent' }) });
  const seen: [string, number | null][] = [];
  t.onChange((r, id) => seen.push([id, r ? r.version : null]));
  return { t, seen };
}

const feed = (t: RulesTable, r: Rule, deleted = false) => {
  const m = ruleMessage(r, deleted);
  return t.apply(m.key, m.value, m.headers);
};

describe('RulesTable.apply', () => {
  it('keeps the highest version per rule: an older one replayed never wins, an equal one changes nothing', () => {
    const { t, seen } = table();
    assert.equal(feed(t, rule('r_a', 2, { name: 'second' })), 'applied');
    assert.equal(feed(t, rule('r_a', 1, { name: 'first' })), 'stale');
    assert.equal(feed(t, rule('r_a', 2, { name: 'second again' })), 'stale');
    assert.equal(t.get('r_a')?.name, 'second');
    assert.equal(feed(t, rule('r_a', 3, { name: 'third' })), 'applied');
    assert.equal(t.get('r_a')?.name, 'third');
    assert.deepEqual(seen, [['r_a', 2], ['r_a', 3]], 'listeners hear only the changes');
    assert.equal(t.version, 2);
    assert.deepEqual(t.tallies(), { stage: 'rules', received: 0, sent: 2, dropped: { stale: 2, invalid: 0 }, errors: 0 });
  });

  it('a tombstone deletes the rule, and an older value arriving after it does not bring it back', () => {
    const { t, seen } = table();
    feed(t, rule('r_b', 1));
    assert.equal(feed(t, rule('r_b', 2), true), 'applied');
    assert.equal(t.get('r_b'), undefined);
    assert.equal(feed(t, rule('r_b', 1)), 'stale');
    assert.equal(t.get('r_b'), undefined);
    assert.deepEqual(seen, [['r_b', 1], ['r_b', null]]);
    // A tombstone for a rule never seen (its values compacted away) still keeps older values out.
    assert.equal(feed(t, rule('r_c', 5), true), 'applied');
    assert.equal(feed(t, rule('r_c', 4)), 'stale');
    assert.equal(t.all().size, 0);
    assert.equal(t.version, 2, 'nothing visible changed for r_c');
  });

  it('a tombstone without a version header deletes whatever is held', () => {
    const { t } = table();
    feed(t, rule('r_d', 9));
    assert.equal(t.apply('r_d', null, undefined), 'applied');
    assert.equal(t.all().size, 0);
  });

  it('rules() holds the enabled rules, all() every one, and both follow changes', () => {
    const { t } = table();
    feed(t, rule('r_on', 1));
    feed(t, rule('r_off', 1, { enabled: false }));
    assert.deepEqual([...t.rules().keys()], ['r_on']);
    assert.deepEqual([...t.all().keys()].sort(), ['r_off', 'r_on']);
    feed(t, rule('r_off', 2, { enabled: true }));
    feed(t, rule('r_on', 2, { enabled: false }));
    assert.deepEqual([...t.rules().keys()], ['r_off']);
  });

  it('skips and counts what is no rule, and keeps working', () => {
    const { t, seen } = table();
    const json = (v: unknown) => Buffer.from(JSON.stringify(v));
    const header = [{ 'rule-version': '1' }];
    const bad: [string | null, Buffer | null, { [k: string]: string }[] | undefined][] = [
      ['r_x', Buffer.from('{not json'), header],
      ['r_x', json([1, 2]), header],
      ['r_x', json({ ...rule('r_x', 1), version: undefined }), header],
      ['r_x', json({ ...rule('r_x', 1), version: 0 }), header],
      ['r_x', json(rule('r_other', 1)), header],
      ['r_x', json({ ...rule('r_x', 1), kind: 'sometimes' }), header],
      [null, json(rule('r_x', 1)), header],
      ['r_x', null, [{ 'rule-version': 'soon' }]],
    ];
    for (const [key, value, headers] of bad) assert.equal(t.apply(key, value, headers), 'invalid', String(value));
    assert.equal(t.stats.invalid, bad.length);
    assert.equal(t.all().size, 0);
    assert.deepEqual(seen, []);
    assert.equal(feed(t, rule('r_x', 1)), 'applied');
  });

  it('ready() rejects when the table is stopped before it read the topic, so an evaluator waiting on it can shut down', async () => {
    const { t } = table();
    const waiting = t.ready();
    await t.stop();
    await assert.rejects(waiting, /FL_ERR_RULES_TOPIC|stopped before/);
  });

  it('applies the defaults of the rule schema and keeps the webhook secret the evaluator signs with', () => {
    const { t } = table();
    const value = Buffer.from(JSON.stringify({ id: 'r_w', name: 'w', kind: 'quality', params: { max_quarantined_pct: 5 }, version: 4, webhook: { url: 'https://h.example/', secret: 'x'.repeat(16) } }));
    assert.equal(t.apply('r_w', value, [{ 'rule-version': '4' }]), 'applied');
    const r = t.get('r_w')!;
    assert.deepEqual(r.params, { max_quarantined_pct: 5, window_s: 300, min_readings: 20 });
    assert.equal(r.webhook?.secret, 'x'.repeat(16));
    assert.equal(r.severity, 'warning');
  });
});
