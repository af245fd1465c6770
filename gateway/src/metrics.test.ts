import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, OTHER_DEVICES } from './metrics.js';

describe('metrics', () => {
  it('a lost reading is counted per device, in the totals, and as a refusal by reason', () => {
    const m = new Metrics();
    m.lose('d1', 'quarantined', 2, 'FL_ERR_DECODE_JSON');
    m.lose('d1', 'rateLimited', 1, 'FL_ERR_RATE_LIMITED');
    m.refuse('d1', 'FL_ERR_MQTT_ACL_DENIED');
    m.refuse(null, 'FL_ERR_COAP_NOT_FOUND');
    assert.deepEqual(m.deviceLoss.get('d1'), { rateLimited: 1, quarantined: 2, evicted: 0 });
    assert.deepEqual(m.loss, { rateLimited: 1, quarantined: 2, evicted: 0 });
    assert.deepEqual(Object.fromEntries(m.deviceRefusals.get('d1')!), { FL_ERR_DECODE_JSON: 2, FL_ERR_RATE_LIMITED: 1, FL_ERR_MQTT_ACL_DENIED: 1 });
    assert.equal(m.reasons.get('FL_ERR_COAP_NOT_FOUND'), 1);
    assert.equal(m.deviceRefusals.size, 1, 'a refusal naming no device is not a device');
  });

  it('tracks at most maxDevices ids one by one and sums the rest, so random ids cannot grow memory', () => {
    const m = new Metrics(3);
    for (let i = 0; i < 100; i++) m.lose(`dev-${i}`, 'quarantined', 1, 'FL_ERR_DECODE_JSON');
    m.lose('dev-0', 'quarantined', 1, 'FL_ERR_DECODE_JSON');
    assert.equal(m.deviceLoss.size, 4);
    assert.equal(m.deviceRefusals.size, 4);
    assert.equal(m.deviceLoss.get('dev-0')?.quarantined, 2, 'an id already tracked keeps its own entry');
    assert.equal(m.deviceLoss.get(OTHER_DEVICES)?.quarantined, 97);
    assert.equal(m.loss.quarantined, 101, 'the totals miss nothing');
  });

  it('renders Prometheus text through prom-client: stage counters, loss, refusals, gauges and the process metrics', async () => {
    const m = new Metrics();
    m.count('mqtt', 'received', 3);
    m.count('forward', 'errors');
    m.lose('d1', 'evicted', 4, 'FL_ERR_OUTBOX_EVICTED');
    m.refuse('d"1', 'FL_ERR_MQTT_AUTH');
    let depth = 7;
    m.gauge('outbox_depth_readings', 'readings waiting', () => depth);
    const text = await m.render();
    assert.match(text, /^fieldline_gateway_received_total\{stage="mqtt"\} 3$/m);
    assert.match(text, /^fieldline_gateway_errors_total\{stage="forward"\} 1$/m);
    assert.match(text, /^fieldline_gateway_loss_total\{kind="evicted"\} 4$/m);
    assert.match(text, /^fieldline_gateway_refused_total\{reason="FL_ERR_MQTT_AUTH"\} 1$/m);
    assert.match(text, /^fieldline_gateway_outbox_depth_readings 7$/m);
    assert.match(text, new RegExp(`^nodejs_version_info\\{version="${process.version}".*\\} 1$`, 'm'));
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    assert.match(text, /^# TYPE fieldline_gateway_received_total counter$/m);

    // Counts taken after a scrape show at the next one: the registry reads the live values.
    m.count('mqtt', 'received', 2);
    depth = 0;
    const again = await m.render();
    assert.match(again, /^fieldline_gateway_received_total\{stage="mqtt"\} 5$/m);
    assert.match(again, /^fieldline_gateway_outbox_depth_readings 0$/m);
  });

  it('each Metrics has its own registry: two gateways in one process never share counts', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.count('ingest', 'received', 11);
    b.count('ingest', 'received', 1);
    assert.match(await a.render(), /^fieldline_gateway_received_total\{stage="ingest"\} 11$/m);
    assert.match(await b.render(), /^fieldline_gateway_received_total\{stage="ingest"\} 1$/m);
  });
});
