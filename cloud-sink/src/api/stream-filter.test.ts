// The stream's filter and fleet rules on their own: what a client asks for, what its token lets it see.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldlineError } from '../errors.js';
import type { Principal, Scope } from './auth.js';
import { alertPasses, filterView, parseFilter, ReadingView, wantsGateway, type StreamFilter } from './stream-filter.js';

const principal = (scopes: Scope[], fleet: string[] | null = null): Principal => ({ subject: 't', scopes: new Set(scopes), fleet: fleet && new Set(fleet) });
const viewer = principal(['read:telemetry', 'read:fleet']);

function refusal(fn: () => unknown): { code: string; status: number; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FieldlineError, String(err));
    return { code: err.code, status: err.statusCode, message: err.message };
  }
  assert.fail('expected a refusal');
}

describe('stream filter', () => {
  it('takes repeated parameters and comma lists alike, and defaults kinds to what the scopes allow', () => {
    const f = parseFilter({ device: ['d1,d2', 'd3'], metric: 'temperature, humidity' }, viewer, 'FL_ERR_API_BAD_PARAM');
    assert.deepEqual(filterView(f), { kinds: ['readings', 'alerts'], device: ['d1', 'd2', 'd3'], metric: ['humidity', 'temperature'], gateway: null });
    assert.deepEqual(filterView(parseFilter({}, principal(['read:telemetry']), 'FL_ERR_API_BAD_PARAM')).kinds, ['readings']);
    assert.deepEqual(filterView(parseFilter({}, principal(['read:fleet']), 'FL_ERR_API_BAD_PARAM')).kinds, ['alerts']);
    assert.deepEqual(filterView(parseFilter({}, principal(['admin']), 'FL_ERR_API_BAD_PARAM')).kinds, ['readings', 'alerts']);
  });

  it("keeps a subscribe message's array items whole, so an id holding a comma can be asked for", () => {
    const f = parseFilter({ device: ['a,b'], gateway: 'g1,g2' }, viewer, 'FL_ERR_API_BAD_REQUEST');
    assert.deepEqual(filterView(f).device, ['a,b']);
    assert.deepEqual(filterView(f).gateway, ['g1', 'g2']);
  });

  it('refuses a kind the scopes do not cover with 403, and a token with neither scope outright', () => {
    assert.deepEqual(refusal(() => parseFilter({ kinds: 'alerts' }, principal(['read:telemetry']), 'FL_ERR_API_BAD_PARAM')).status, 403);
    assert.deepEqual(refusal(() => parseFilter({ kinds: 'readings' }, principal(['read:fleet']), 'FL_ERR_API_BAD_PARAM')).code, 'FL_ERR_AUTH_SCOPE');
    assert.deepEqual(refusal(() => parseFilter({}, principal(['write:rules']), 'FL_ERR_API_BAD_PARAM')).code, 'FL_ERR_AUTH_SCOPE');
  });

  it('refuses malformed values with the given 400 code, naming the field', () => {
    const bad = refusal(() => parseFilter({ kinds: 'readings,heartbeats' }, viewer, 'FL_ERR_API_BAD_PARAM'));
    assert.equal(bad.code, 'FL_ERR_API_BAD_PARAM');
    assert.match(bad.message, /kinds: "heartbeats"/);
    assert.match(refusal(() => parseFilter({ device: ',' }, viewer, 'FL_ERR_API_BAD_REQUEST')).message, /device: expected at least one value/);
    assert.match(refusal(() => parseFilter({ metric: [1] }, viewer, 'FL_ERR_API_BAD_REQUEST')).message, /metric: expected strings/);
    assert.match(refusal(() => parseFilter({ gateway: { a: 1 } }, viewer, 'FL_ERR_API_BAD_REQUEST')).message, /gateway: expected a string/);
    assert.equal(refusal(() => parseFilter({ device: Array.from({ length: 1001 }, (_, i) => `d${i}`) }, viewer, 'FL_ERR_API_BAD_REQUEST')).status, 400);
  });

  it("never lets readings from a gateway outside the token's fleet through, whatever the filter names", () => {
    const fleet = principal(['read:telemetry'], ['gw-a']);
    const all = parseFilter({}, fleet, 'FL_ERR_API_BAD_PARAM');
    assert.equal(wantsGateway(all, fleet, 'gw-a'), true);
    assert.equal(wantsGateway(all, fleet, 'gw-b'), false);
    const asksB = parseFilter({ gateway: 'gw-b' }, fleet, 'FL_ERR_API_BAD_PARAM');
    assert.equal(wantsGateway(asksB, fleet, 'gw-b'), false, 'asking for it by name does not open it');
    assert.equal(wantsGateway(asksB, fleet, 'gw-a'), false, 'and the gateway filter still applies inside the fleet');
    const alertsOnly = parseFilter({ kinds: 'alerts' }, viewer, 'FL_ERR_API_BAD_PARAM');
    assert.equal(wantsGateway(alertsOnly, viewer, 'gw-a'), false);
  });

  it('shows a reading only to filters that want its device, with only the metrics asked for', () => {
    const view = ReadingView.of('gw-a', 'd1', Date.UTC(2026, 10, 30, 6, 0, 0, 250), { temperature: 21.5, humidity: 40, bad: NaN })!;
    const f = (q: Record<string, string>): StreamFilter => parseFilter(q, viewer, 'FL_ERR_API_BAD_PARAM');
    assert.deepEqual(JSON.parse(view.frameFor(f({}))!), {
      type: 'reading', gateway_id: 'gw-a', device_id: 'd1', ts: '2026-11-30T06:00:00.250Z', metrics: { temperature: 21.5, humidity: 40 },
    });
    assert.deepEqual(JSON.parse(view.frameFor(f({ device: 'd1', metric: 'humidity,pressure' }))!).metrics, { humidity: 40 });
    assert.equal(view.frameFor(f({ device: 'd2' })), null);
    assert.equal(view.frameFor(f({ metric: 'pressure' })), null, 'no frame when no asked metric is in the reading');
    assert.equal(ReadingView.of('gw-a', 'd1', 1e17, { t: 1 }), null, 'a time no Date holds');
    assert.equal(ReadingView.of('gw-a', '', 1, { t: 1 }), null, 'no device');
    assert.equal(ReadingView.of('gw-a', 'd1', 1, { t: Infinity }), null, 'no finite value');
  });

  it("passes alerts by their target: the fleet first (no gateway: fleet tokens never see it), then each filter list", () => {
    const fleet = principal(['read:fleet'], ['gw-a']);
    const all = parseFilter({}, fleet, 'FL_ERR_API_BAD_PARAM');
    assert.equal(alertPasses({ gateway: 'gw-a', device: 'd1', metric: 't' }, all, fleet), true);
    assert.equal(alertPasses({ gateway: 'gw-b', device: 'd1' }, all, fleet), false);
    assert.equal(alertPasses({ device: 'd1' }, all, fleet), false);
    assert.equal(alertPasses({ device: 'd1' }, parseFilter({}, viewer, 'FL_ERR_API_BAD_PARAM'), viewer), true);
    const byDevice = parseFilter({ device: 'd1' }, viewer, 'FL_ERR_API_BAD_PARAM');
    assert.equal(alertPasses({ gateway: 'gw-a', device: 'd1' }, byDevice, viewer), true);
    assert.equal(alertPasses({ gateway: 'gw-a' }, byDevice, viewer), false, 'a gateway alert has no device to match');
    const readingsOnly = parseFilter({ kinds: 'readings' }, viewer, 'FL_ERR_API_BAD_PARAM');
    assert.equal(alertPasses({ gateway: 'gw-a' }, readingsOnly, viewer), false);
  });
});
