// The shipped register-map templates load and pass the config's own schema as devices on a real
// bus config, deviceFromTemplate fills in the template's defaults and the caller's overrides, and a
// template with a mistake is refused naming the file and the key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gatewayConfigSchema } from '../../config/schema.js';
import { FieldlineError } from '../../errors.js';
import { deviceFromTemplate, loadTemplates, summarize, templatesDir } from './templates.js';

describe('register-map templates', () => {
  const templates = loadTemplates();

  test('the shipped folder is found from the compiled code and holds the energy meter and the T/H transmitter', () => {
    assert.match(templatesDir(), /gateway\/templates\/modbus$/);
    const ids = templates.map((t) => t.id);
    assert.ok(ids.includes('eastron-sdm630') && ids.includes('th-transmitter'), ids.join(', '));
    const meter = summarize(templates.find((t) => t.id === 'eastron-sdm630')!);
    assert.equal(meter.tagCount, 14);
    assert.deepEqual(meter.defaults, { unitId: 1, baudRate: 9600, parity: 'none', pollIntervalMs: 1000 });
  });

  test('every template, as a device on an RTU bus, is a config the gateway accepts, with the tags it lists', () => {
    for (const t of templates) {
      const device = deviceFromTemplate(t, { deviceId: `dev-${t.id}`, unitId: 7 });
      const cfg = gatewayConfigSchema.parse({ modbus: { enabled: true, buses: [{ type: 'rtu', path: '/dev/ttyUSB0', baudRate: t.defaults.baudRate, parity: t.defaults.parity, devices: [device] }] } });
      const parsed = cfg.modbus.buses[0]!.devices[0]!;
      assert.equal(parsed.unitId, 7);
      assert.equal(parsed.tagGroups.flatMap((g) => g.tags).length, summarize(t).tagCount, t.id);
    }
  });

  test('deviceFromTemplate: the default poll interval fills groups without one, unit id defaults, overrides win', () => {
    const th = templates.find((t) => t.id === 'th-transmitter')!;
    const d = deviceFromTemplate(th, { deviceId: 'cabinet-th', overrides: { timeoutMs: 300 } });
    assert.equal(d.unitId, 1);
    assert.equal(d.timeoutMs, 300);
    assert.equal(d.tagGroups[0]?.pollIntervalMs, 5000);
    d.tagGroups[0]!.pollIntervalMs = 1;
    assert.equal(th.tagGroups[0]?.pollIntervalMs, undefined, 'the template itself is not changed');
  });

  test('a template with overlapping tags or an unknown key is refused naming the file and the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldline-templates-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), 'id: bad\nname: Bad\ntagGroups:\n  - tags:\n      - { metric: a, function: 3, address: 0, type: float32 }\n      - { metric: b, function: 3, address: 1 }\n');
      assert.throws(() => loadTemplates(dir), (err: unknown) => err instanceof FieldlineError && err.code === 'FL_ERR_MODBUS_TEMPLATE_INVALID' && /bad\.yaml: tagGroups\.0\.tags\.1\.address: expected an address not inside another tag/.test(err.message));
      writeFileSync(join(dir, 'bad.yaml'), 'id: bad\nname: Bad\ncolour: red\ntagGroups:\n  - tags: [{ metric: a, function: 3, address: 0 }]\n');
      assert.throws(() => loadTemplates(dir), /bad\.yaml: .*colour/);
      writeFileSync(join(dir, 'bad.yaml'), 'id: other\nname: Bad\ntagGroups:\n  - tags: [{ metric: a, function: 3, address: 0 }]\n');
      assert.throws(() => loadTemplates(dir), /id: expected "bad", the file's name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
