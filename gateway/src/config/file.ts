// The gateway's YAML config file as something edited while the gateway runs (PATCH /config,
// `fieldline-gateway provision`). An edit is a merge patch over what the file says (not over the
// defaults or the environment), checked the way start-up checks it (common/src/config.ts), and
// written only when valid: to a temporary file beside it, synced, renamed over it, and the directory
// synced, so a power cut leaves the old file or the new one, never half of each. The previous file
// is kept as <file>.bak, older ones as <file>.bak.1 … .bak.<backups-1>.
import {
  closeSync, copyFileSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync,
  accessSync, constants, chmodSync, chownSync, mkdirSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, isSeq, parseDocument } from 'yaml';
import { ConfigError, checkConfig, envOverrides, type ConfigIssue } from '../../../common/src/config.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from './schema.js';
import { isTree, mergePatch, type Tree } from './merge-patch.js';
import { restoreSecrets } from './secrets.js';

/** Backups kept: <file>.bak and <file>.bak.1 … .bak.(n-1). */
export const DEFAULT_BACKUPS = 4;

export interface RawConfigFile {
  /** The file's settings as written (no defaults, no environment); {} for a missing or empty file. */
  raw: Tree;
  /** The file's text, null when it does not exist. */
  text: string | null;
}

export function readRawConfig(file: string): RawConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { raw: {}, text: null };
    throw new ConfigError([`cannot read config file ${file}: ${(err as Error).message}`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConfigError([`${file} is not valid YAML: ${doc.errors[0]!.message}`]);
  const raw: unknown = doc.toJS();
  if (raw !== null && raw !== undefined && !isTree(raw)) throw new ConfigError([`${file} must hold a mapping of settings at the top level`]);
  return { raw: (raw as Tree | null) ?? {}, text };
}

/** The settings start-up would run with: the file's, the environment's on top, checked by the schema. */
export function validateRaw(raw: Tree, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return checkConfig(gatewayConfigSchema, raw, { env, envPrefix: GATEWAY_ENV_PREFIX });
}

/** Dotted keys a FIELDLINE_GATEWAY_* variable sets: editing them in the file changes nothing at start-up. */
export function envOverrideKeys(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const walk = (node: unknown, path: string[]) => {
    if (isTree(node)) for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    else out.push(path.join('.'));
  };
  walk(envOverrides(env, GATEWAY_ENV_PREFIX), []);
  return out.sort();
}

/** Whether an edit could be written: the file (or, when missing, its folder) is writable. */
export function configWritable(file: string): boolean {
  try {
    accessSync(existsSync(file) ? file : dirname(file), constants.W_OK);
    accessSync(dirname(file), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export interface EditOptions {
  env?: NodeJS.ProcessEnv;
  /** Check only; the file is not touched. */
  dryRun?: boolean;
  backups?: number;
}

export interface EditResult {
  /** The file's settings after the edit (secrets in clear: redact before showing them). */
  raw: Tree;
  /** What start-up would now run with. */
  config: GatewayConfig;
  /** false when the patch left the file's settings as they were (nothing written). */
  changed: boolean;
  /** Where the previous file went; null when nothing was written or there was no previous file. */
  backup: string | null;
}

/**
 * Applies `patch` (RFC 7396) to the file's settings and writes the result if it is valid. Throws
 * ConfigError (its `issues` name each key) and leaves the file alone when it is not.
 */
export function editConfigFile(file: string, patch: unknown, opts: EditOptions = {}): EditResult {
  if (!isTree(patch)) throw new ConfigError(['the patch must be a JSON object (a merge patch over the file\'s settings)'], [{ path: '', message: 'expected a JSON object' }]);
  const current = readRawConfig(file);
  const merged = mergePatch(current.raw, patch) as Tree;
  const { value: raw, problems } = restoreSecrets(merged, current.raw);
  if (problems.length) throw new ConfigError(problems.map((p) => p.message), problems);
  const config = validateRaw(raw, opts.env);
  const changed = current.text === null || !isDeepStrictEqual(raw, current.raw);
  if (opts.dryRun || !changed) return { raw, config, changed, backup: null };
  const backup = writeConfigAtomic(file, renderYaml(current.text, raw), opts.backups ?? DEFAULT_BACKUPS);
  return { raw, config, changed, backup };
}

/**
 * The new settings as YAML. The old text is edited in place (yaml's Document), so the comments and
 * order a person gave the file survive an edit made through the page; only when that cannot
 * reproduce the settings exactly is the file written afresh.
 */
export function renderYaml(oldText: string | null, raw: Tree): string {
  if (oldText !== null && oldText.trim() !== '') {
    const doc = parseDocument(oldText);
    if (!doc.errors.length && isMap(doc.contents)) {
      syncNode(doc, [], raw);
      const text = doc.toString();
      if (isDeepStrictEqual(parseDocument(text).toJS() ?? {}, raw)) return text;
    }
  }
  return new Document(raw).toString();
}

function syncNode(doc: Document, path: (string | number)[], want: unknown): void {
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  if (isTree(want) && isMap(node)) {
    // `{}` written for an empty section would otherwise grow as a one-line flow mapping.
    if (Object.keys(want).length > 0) node.flow = false;
    for (const item of [...node.items]) {
      const key = (item.key as { value?: unknown } | null)?.value ?? item.key;
      if (typeof key === 'string' && !(key in want)) doc.deleteIn([...path, key]);
    }
    for (const [k, v] of Object.entries(want)) syncNode(doc, [...path, k], v);
    return;
  }
  const have = node === undefined ? undefined : (isMap(node) || isSeq(node) ? (node as { toJSON(): unknown }).toJSON() : (node as { value?: unknown }).value);
  if (!isDeepStrictEqual(have, want)) doc.setIn(path, doc.createNode(want));
}

/**
 * Replaces `file` with `text`: mode 0600 (it holds secrets), owner kept, durable before it is
 * visible. Returns the backup path of the previous file, or null when there was none.
 */
export function writeConfigAtomic(file: string, text: string, backups = DEFAULT_BACKUPS): string | null {
  mkdirSync(dirname(file), { recursive: true });
  const previous = existsSync(file) ? statSync(file) : null;
  let backup: string | null = null;
  writeFileDurably(file, text, {
    mode: 0o600,
    // Some filesystems refuse fsync on a directory; the config is in place either way.
    dirSyncOptional: true,
    beforeRename: (tmp) => {
      // A root-run provision rewriting the service user's file must leave it readable by that user.
      if (previous && statSync(tmp).uid !== previous.uid) {
        try {
          chownSync(tmp, previous.uid, previous.gid);
        } catch {
          // not root: the file stays ours, which is who wrote it
        }
      }
      if (previous) backup = keepBackup(file, backups);
    },
  });
  return backup;
}

/** Shifts .bak → .bak.1 → … and copies the current file to .bak (0600, synced). */
function keepBackup(file: string, backups: number): string | null {
  if (backups < 1) return null;
  const name = (i: number) => (i === 0 ? `${file}.bak` : `${file}.bak.${i}`);
  rmSync(name(backups - 1), { force: true });
  for (let i = backups - 2; i >= 0; i--) if (existsSync(name(i))) renameSync(name(i), name(i + 1));
  const bak = name(0);
  copyFileSync(file, bak);
  chmodSync(bak, 0o600);
  const fd = openSync(bak, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return bak;
}

export type { ConfigIssue };
