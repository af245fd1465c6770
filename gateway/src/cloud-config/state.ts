// What the gateway remembers about cloud configs, and the rules that decide what a new version
// does (docs/ARCHITECTURE.md, "Config from the cloud"). The rules are pure functions of the state
// and the message, so they are tested alone; CloudConfigStore keeps the state in dataDir, replaced
// durably, so a restart neither applies a version again nor an older one.
//
// - A version not newer than the newest one seen is ignored: replays of the compacted topic, and
//   the older versions compaction has not removed yet.
// - A config changed on site (PATCH /config) wins until the cloud's is newer: a version issued
//   before the local change is held back and reported as a conflict; one issued after it applies.
// - A version found "applying" at start-up is one the gateway stopped in the middle of: it is
//   marked failed, not tried again, so a config that kills the process cannot loop it.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import type { CloudConfigMessage } from './message.js';

export interface CloudConfigState {
  /** The cloud version the gateway runs; null before the first one. */
  applied: { version: number; issuedMs: number; issuedBy: string; appliedMs: number } | null;
  /** The newest cloud version received, whatever became of it (0: none). */
  seen: number;
  /** The config was changed on site: when (gateway clock) and on top of which cloud version (0: none). */
  local: { changedMs: number; baseVersion: number } | null;
  /** The newest version refused, and why; cleared when a newer one is applied or held back. */
  error: { version: number; code: string; message: string } | null;
  /** A version held back because the config was changed on site after it was issued. */
  conflict: { version: number; issuedMs: number; localChangedMs: number; baseVersion: number } | null;
  /** Set while a version is being applied. */
  applying: number | null;
}

export const INITIAL_STATE: CloudConfigState = { applied: null, seen: 0, local: null, error: null, conflict: null, applying: null };

export type Decision = { action: 'ignore'; why: string } | { action: 'conflict' } | { action: 'apply' };

export function decide(state: CloudConfigState, m: Pick<CloudConfigMessage, 'version' | 'issued_ms'>): Decision {
  if (m.version <= state.seen) return { action: 'ignore', why: `version ${m.version} is not newer than version ${state.seen}, already seen` };
  if (state.local && m.issued_ms < state.local.changedMs) return { action: 'conflict' };
  return { action: 'apply' };
}

export function beginApply(state: CloudConfigState, version: number): CloudConfigState {
  return { ...state, applying: version };
}

export function markApplied(state: CloudConfigState, m: CloudConfigMessage, nowMs: number): CloudConfigState {
  return {
    applied: { version: m.version, issuedMs: m.issued_ms, issuedBy: m.issued_by, appliedMs: nowMs },
    seen: Math.max(state.seen, m.version),
    local: null,
    error: null,
    conflict: null,
    applying: null,
  };
}

export function markFailed(state: CloudConfigState, version: number, code: string, message: string): CloudConfigState {
  return { ...state, seen: Math.max(state.seen, version), error: { version, code, message }, conflict: null, applying: null };
}

export function markConflict(state: CloudConfigState, m: Pick<CloudConfigMessage, 'version' | 'issued_ms'>): CloudConfigState {
  const local = state.local ?? { changedMs: 0, baseVersion: 0 };
  return {
    ...state,
    seen: Math.max(state.seen, m.version),
    conflict: { version: m.version, issuedMs: m.issued_ms, localChangedMs: local.changedMs, baseVersion: local.baseVersion },
    error: null,
    applying: null,
  };
}

export function markLocalChange(state: CloudConfigState, nowMs: number): CloudConfigState {
  return { ...state, local: { changedMs: nowMs, baseVersion: state.applied?.version ?? 0 } };
}

/** At start-up: a version still marked applying is one the process stopped in; it fails, for good. */
export function recoverInterrupted(state: CloudConfigState): CloudConfigState {
  if (state.applying === null) return state;
  return markFailed(state, state.applying, 'FL_ERR_CONFIG_CLOUD_FAILED', 'the gateway stopped while applying it; it is not tried again (issue a new version to retry)');
}

export type ConfigSource = 'file' | 'cloud' | 'local';

export function configSource(state: CloudConfigState): ConfigSource {
  return state.local ? 'local' : state.applied ? 'cloud' : 'file';
}

/** The sentences the heartbeat, /status and the commissioning page show. */
export function describeState(state: CloudConfigState): { source: ConfigSource; version: number; seenVersion: number; error: string; conflict: string } {
  const iso = (ms: number) => new Date(ms).toISOString();
  const c = state.conflict;
  return {
    source: configSource(state),
    version: state.applied?.version ?? 0,
    seenVersion: state.seen,
    error: state.error ? `version ${state.error.version}: ${state.error.code}: ${state.error.message}` : '',
    conflict: c
      ? `version ${c.version}, issued ${iso(c.issuedMs)}, predates the change made on site at ${iso(c.localChangedMs)} (on top of version ${c.baseVersion}); the local config is kept until the cloud issues a newer version`
      : '',
  };
}

/** The state in <dataDir>/cloud-config.json. */
export class CloudConfigStore {
  private current: CloudConfigState;
  /** Why the file could not be read at start (it was then taken as empty); null when it could. */
  readonly loadProblem: string | null;

  constructor(readonly file: string) {
    let problem: string | null = null;
    let state = INITIAL_STATE;
    if (existsSync(file)) {
      try {
        state = { ...INITIAL_STATE, ...(JSON.parse(readFileSync(file, 'utf8')) as Partial<CloudConfigState>) };
      } catch (err) {
        problem = `${file}: ${(err as Error).message}`;
      }
    }
    this.loadProblem = problem;
    this.current = state;
  }

  get state(): CloudConfigState {
    return this.current;
  }

  /** Replaces the state, on disk first. */
  set(next: CloudConfigState): void {
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileDurably(this.file, JSON.stringify(next, null, 2) + '\n', { mode: 0o600, dirSyncOptional: true });
    this.current = next;
  }
}
