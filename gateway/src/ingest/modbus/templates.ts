// Register-map templates: the tag groups of a common device (an energy meter, a temperature/humidity
// transmitter) shipped as YAML files under gateway/templates/modbus/, so a field tech picks one on the
// commissioning page instead of typing forty addresses from a manual. A template's tagGroups are in
// exactly the config's shape (config.ts tagGroupSchema) and are checked with the config's own rules at
// load, so a template that loads is a device the gateway accepts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { modbusConfigSchema, tagGroupSchema } from './config.js';

const ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export const templateSchema = z.strictObject({
  /** The file's name without .yaml; what GET /modbus/templates/:id takes. */
  id: z.string().regex(ID, 'expected 1-64 characters of a-z 0-9 _ . - (the file name without .yaml)'),
  /** Shown in the template list. */
  name: z.string().min(1).max(120),
  description: z.string().max(1000).default(''),
  manufacturer: z.string().max(120).optional(),
  model: z.string().max(120).optional(),
  /** The line settings and unit id the device ships with, for the page to propose. */
  defaults: z
    .strictObject({
      unitId: z.number().int().min(0).max(255).optional(),
      baudRate: z.number().int().min(300).max(4_000_000).optional(),
      parity: z.enum(['none', 'even', 'odd']).optional(),
      /** Given to every tag group that names no pollIntervalMs of its own. */
      pollIntervalMs: z.number().int().min(10).optional(),
    })
    .default({}),
  tagGroups: z.array(tagGroupSchema).min(1, 'expected at least one tag group'),
});

/** A template as its file says it (tagGroups unexpanded, so they read like the config file). */
export interface ModbusTemplate {
  id: string;
  name: string;
  description: string;
  manufacturer?: string;
  model?: string;
  defaults: { unitId?: number; baudRate?: number; parity?: 'none' | 'even' | 'odd'; pollIntervalMs?: number };
  tagGroups: Record<string, unknown>[];
}

export interface TemplateSummary {
  id: string;
  name: string;
  description: string;
  manufacturer: string | null;
  model: string | null;
  defaults: ModbusTemplate['defaults'];
  tagCount: number;
}

/** One entry of modbus.buses[i].devices[], as the config file holds it. */
export interface TemplateDevice {
  deviceId: string;
  unitId: number;
  tagGroups: Record<string, unknown>[];
  [setting: string]: unknown;
}

export function summarize(t: ModbusTemplate): TemplateSummary {
  const tagCount = t.tagGroups.reduce((n, g) => n + (Array.isArray(g.tags) ? g.tags.length : 0), 0);
  return { id: t.id, name: t.name, description: t.description, manufacturer: t.manufacturer ?? null, model: t.model ?? null, defaults: t.defaults, tagCount };
}

/**
 * The device entry for a bus's `devices`: the template's tag groups (each without a pollIntervalMs
 * given the template's default one), its unit id unless `unitId` says otherwise, and `overrides`
 * (timeoutMs, retries, maxGap, … or tagGroups edited on the page) on top.
 */
export function deviceFromTemplate(template: ModbusTemplate, opts: { deviceId: string; unitId?: number; overrides?: Record<string, unknown> }): TemplateDevice {
  const poll = template.defaults.pollIntervalMs;
  const tagGroups = template.tagGroups.map((g) => structuredClone(g.pollIntervalMs === undefined && poll !== undefined ? { ...g, pollIntervalMs: poll } : g));
  return { deviceId: opts.deviceId, unitId: opts.unitId ?? template.defaults.unitId ?? 1, tagGroups, ...structuredClone(opts.overrides ?? {}) };
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
}

/** Checks one parsed file; throws FL_ERR_MODBUS_TEMPLATE_INVALID naming the file and the key. */
export function checkTemplate(raw: unknown, file: string, expectedId?: string): ModbusTemplate {
  const parsed = templateSchema.safeParse(raw);
  if (!parsed.success) throw new GatewayError('FL_ERR_MODBUS_TEMPLATE_INVALID', `${file}: ${issues(parsed.error)}`);
  if (expectedId !== undefined && parsed.data.id !== expectedId) {
    throw new GatewayError('FL_ERR_MODBUS_TEMPLATE_INVALID', `${file}: id: expected ${JSON.stringify(expectedId)}, the file's name (got ${JSON.stringify(parsed.data.id)})`);
  }
  const template = { ...(raw as ModbusTemplate), description: parsed.data.description, defaults: parsed.data.defaults };
  // The rules that span tags (overlapping addresses, repeated metric names, types that do not fit a
  // function) live in the config schema: run the template through it as one device on a bus.
  const device = deviceFromTemplate(template, { deviceId: 'template-check', unitId: 1 });
  const asConfig = modbusConfigSchema.safeParse({ enabled: true, buses: [{ type: 'tcp', host: 'template.check', devices: [device] }] });
  if (!asConfig.success) throw new GatewayError('FL_ERR_MODBUS_TEMPLATE_INVALID', `${file}: ${issues(asConfig.error).replaceAll('buses.0.devices.0.', '')}`);
  return template;
}

/** Every <id>.yaml in `dir`, checked, sorted by id. A missing folder holds no templates. */
export function loadTemplates(dir: string = templatesDir()): ModbusTemplate[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      let raw: unknown;
      try {
        raw = parseYaml(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new GatewayError('FL_ERR_MODBUS_TEMPLATE_INVALID', `${file}: not YAML: ${(err as Error).message}`);
      }
      return checkTemplate(raw, file, f.replace(/\.ya?ml$/, ''));
    });
}

/**
 * gateway/templates/modbus under the package root, found by walking up from this file, so it is the
 * same from src/ (tests), dist/ and the installed tree (/opt/fieldline).
 */
export function templatesDir(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'gateway', 'templates', 'modbus');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(from, 'templates-not-found');
  }
}
