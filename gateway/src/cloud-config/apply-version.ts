// Applies one cloud config version to the running gateway, all of it or none of it: the sections
// it sets replace the file's, the result is checked as start-up checks the file (the same path as
// PATCH /config), run through Gateway.reconfigure, and given verifyMs for the adapters it restarted
// to come up. Any failure puts the whole previous config back, not only the failed adapter's
// settings, and leaves the file as it was. Only a version that runs is written to the file.
//
// The file is written after the apply, not before: a crash in between leaves the old file and the
// version not marked applied, so it is read from the topic and applied again at the next start.
import type { Logger } from 'pino';
import { ConfigError } from '../../../common/src/config.js';
import { planApply, type AdapterName, type ApplyResult } from '../config/apply.js';
import { readRawConfig, renderYaml, validateRaw, writeConfigAtomic } from '../config/file.js';
import type { Tree } from '../config/merge-patch.js';
import type { GatewayConfig } from '../config/schema.js';
import { restoreSecrets } from '../config/secrets.js';
import type { AdapterStatus } from '../ingest/adapter.js';
import { sectionsOf, type CloudConfigMessage } from './message.js';

export interface ApplyVersionDeps {
  /** The YAML file the gateway runs from; null: nothing can be applied (FL_ERR_CONFIG_NO_FILE). */
  file: string | null;
  env?: NodeJS.ProcessEnv;
  running(): GatewayConfig;
  reconfigure(next: GatewayConfig): Promise<ApplyResult>;
  adapterStates(): AdapterStatus[];
  /** cloudConfig.verifyMs. */
  verifyMs: number;
  log: Logger;
  /** For tests: how the verification waits between looks. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type ApplyOutcome =
  | { ok: true; applied: string[] }
  | { ok: false; code: 'FL_ERR_CONFIG_CLOUD_INVALID' | 'FL_ERR_CONFIG_CLOUD_FAILED' | 'FL_ERR_CONFIG_NO_FILE'; message: string };

/** The file's settings with the message's sections replacing theirs, secrets sent as REDACTED restored. */
export function mergeSections(current: Tree, m: CloudConfigMessage): { raw: Tree; problems: string[] } {
  const merged: Tree = { ...current, ...sectionsOf(m) };
  const { value, problems } = restoreSecrets(merged, current);
  return { raw: value, problems: problems.map((p) => p.message) };
}

/**
 * Which adapters the new settings failed: restarted or started, still down once the wait is over,
 * and not down before (a bus that was already unreachable does not make the new settings wrong).
 */
export function adaptersStillDown(changed: readonly AdapterName[], before: readonly AdapterStatus[], now: readonly AdapterStatus[]): string[] {
  const wasDown = new Set(before.filter((a) => a.state === 'down').map((a) => a.name));
  return changed.flatMap((name) => {
    const s = now.find((a) => a.name === name);
    if (!s || s.state !== 'down' || wasDown.has(name)) return [];
    return [`${name} is down with the new settings (${s.detail || 'no detail'})`];
  });
}

export async function applyVersion(deps: ApplyVersionDeps, m: CloudConfigMessage): Promise<ApplyOutcome> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? Date.now;
  if (!deps.file) return { ok: false, code: 'FL_ERR_CONFIG_NO_FILE', message: 'the gateway was started without --config; a cloud config could not outlive a restart' };
  let next: GatewayConfig;
  let text: string | null;
  let raw: Tree;
  try {
    const current = readRawConfig(deps.file);
    text = current.text;
    const merged = mergeSections(current.raw, m);
    if (merged.problems.length) throw new ConfigError(merged.problems);
    raw = merged.raw;
    next = validateRaw(raw, deps.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, code: 'FL_ERR_CONFIG_CLOUD_INVALID', message: err.problems.join('; ') };
  }
  const prev = deps.running();
  const plan = planApply(prev, next);
  const changed = (Object.entries(plan.adapters) as [AdapterName, string][]).filter(([, a]) => a === 'start' || a === 'restart').map(([n]) => n);
  const before = deps.adapterStates();
  const problems: string[] = [];
  let result: ApplyResult | null = null;
  try {
    result = await deps.reconfigure(next);
    problems.push(...result.failed.map((f) => `${f.part}: ${f.message}`));
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length === 0 && changed.length > 0 && deps.verifyMs > 0) {
    const deadline = now() + deps.verifyMs;
    for (;;) {
      const down = adaptersStillDown(changed, before, deps.adapterStates());
      if (down.length === 0) break;
      if (now() >= deadline) {
        problems.push(...down.map((d) => `${d} ${Math.round(deps.verifyMs / 1000)} s after it started`));
        break;
      }
      await sleep(Math.min(200, Math.max(1, deadline - now())));
    }
  }
  if (problems.length === 0) {
    try {
      writeConfigAtomic(deps.file, renderYaml(text, raw));
      return { ok: true, applied: result?.applied ?? [] };
    } catch (err) {
      // Running a config the file does not hold would be undone by the next restart, silently.
      problems.push(`the config file could not be written: ${(err as Error).message}`);
    }
  }
  {
    let rollback = 'the previous config runs again';
    try {
      const back = await deps.reconfigure(prev);
      if (back.failed.length) rollback = `putting the previous config back failed too: ${back.failed.map((f) => `${f.part}: ${f.message}`).join('; ')}`;
    } catch (err) {
      rollback = `putting the previous config back failed too: ${(err as Error).message}`;
    }
    deps.log.error({ version: m.version, problems, rollback }, 'cloud config version refused; rolled back');
    return { ok: false, code: 'FL_ERR_CONFIG_CLOUD_FAILED', message: `${problems.join('; ')}; ${rollback}` };
  }
}
