/**
 * `buf` (github.com/bufbuild/buf) for the schema checks: `buf breaking` compares proto/ with the
 * released snapshot under proto/released/ (see buf.yaml at the repository root).
 *
 * It comes from the npm registry (@bufbuild/buf, a devDependency: the official release binaries
 * in per-platform packages), pinned with the lockfile. Building it from source with Go took three
 * to eight minutes of CI's two cores for the same binary.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './net.js';

/** Path of the buf launcher that npm installed. */
export function ensureBuf(): Promise<string> {
  const bin = join(repoRoot(), 'node_modules', '.bin', 'buf');
  if (!existsSync(bin)) return Promise.reject(new Error(`${bin} is missing: run npm ci (buf comes from the @bufbuild/buf devDependency)`));
  return Promise.resolve(bin);
}
