// Loads a YAML file, applies environment overrides, and checks the result against a zod schema.
// Shared by the gateway and the cloud so both refuse bad settings the same way: the message names
// the key, the value and what was expected (DESIGN.md, "Entry points").
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { defineCatalogue } from './errors.js';

// One code for every refusal (unreadable file, bad YAML, unknown key, bad value): one error carries
// every problem the schema found, so its list of problems, not the code, says which ones.
const config = defineCatalogue({
  FL_ERR_CONFIG_INVALID: { status: 500, message: 'invalid configuration' },
});

export const catalogue = config.catalogue;

/** Stops start-up (exit 78, common/src/cli.ts); the message lists the problems, one a line. */
export class ConfigError extends config.ErrorClass {
  /** @param issues the same problems with the dotted key each names, for APIs that point at a field. */
  constructor(readonly problems: string[], readonly issues: ConfigIssue[] = problems.map((message) => ({ path: '', message }))) {
    super('FL_ERR_CONFIG_INVALID', `\n  - ${problems.join('\n  - ')}`);
  }
}

/** One problem: the dotted key it is about ('' for the file as a whole) and the start-up message. */
export interface ConfigIssue {
  path: string;
  message: string;
}

type Tree = Record<string, unknown>;

/**
 * `PREFIX_OUTBOX__MAX_ROWS=5` sets `outbox.maxRows`: `__` separates levels and snake case maps to
 * camel case. Values are read as YAML scalars, so numbers, booleans and `[a, b]` lists work.
 */
export function envOverrides(env: NodeJS.ProcessEnv, prefix: string): Tree {
  const out: Tree = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const path = name.slice(prefix.length).split('__').map(camel);
    let node = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = (node[key] = typeof next === 'object' && next !== null ? next : {}) as Tree;
    }
    node[path[path.length - 1] as string] = parseScalar(raw);
  }
  return out;
}

function camel(snake: string): string {
  return snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function parseScalar(raw: string): unknown {
  try {
    return parseYaml(raw) ?? raw;
  } catch {
    return raw;
  }
}

export function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface LoadOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  envPrefix: string;
  overrides?: Tree;
}

export function loadConfig<S extends z.ZodType>(schema: S, opts: LoadOptions): z.infer<S> {
  let fromFile: Tree = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError([`cannot read config file ${opts.file}: ${(err as Error).message}`]);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError([`${opts.file} is not valid YAML: ${(err as Error).message}`]);
    }
    if (parsed !== null && parsed !== undefined && !isTree(parsed)) {
      throw new ConfigError([`${opts.file} must hold a mapping of settings at the top level`]);
    }
    fromFile = (parsed as Tree | null) ?? {};
  }
  return checkConfig(schema, fromFile, opts);
}

/**
 * What loadConfig does after reading the file: environment overrides and `overrides` on top of
 * `fromFile`, then the schema. For callers that hold the file's settings already (an edit to check
 * before it is written), so their refusals read exactly as start-up's.
 */
export function checkConfig<S extends z.ZodType>(schema: S, fromFile: Tree, opts: Omit<LoadOptions, 'file'>): z.infer<S> {
  const merged = deepMerge(deepMerge(fromFile, envOverrides(opts.env ?? process.env, opts.envPrefix)), opts.overrides ?? {});
  const result = schema.safeParse(merged, { reportInput: true });
  if (!result.success) throw new ConfigError(result.error.issues.map(describeIssue), result.error.issues.flatMap(issueKeys));
  return result.data;
}

function issueKeys(issue: z.core.$ZodIssue): ConfigIssue[] {
  const at = issue.path.map(String);
  // One entry per unknown key, so each points at the key to remove.
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => ({ path: [...at, k].join('.'), message: `unknown key ${k}${at.length ? ` under ${at.join('.')}` : ''}` }));
  return [{ path: at.join('.'), message: describeIssue(issue) }];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? ` under ${key}` : '';
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}${where}`;
  }
  const input = 'input' in issue ? ` (got ${JSON.stringify(issue.input)})` : '';
  return `${key}: ${issue.message}${input}`;
}
