/**
 * Go programs the tests run (SeaweedFS's `weed`, `buf`), built from source through the Go module
 * proxy, once per version, into the cache.
 *
 * The toolchain is pinned with GOTOOLCHAIN: any go from 1.21 on that finds GO_TOOLCHAIN is not
 * itself fetches exactly that release from the module proxy (module golang.org/toolchain) and runs
 * it, so the binaries do not depend on which go a machine happens to have, and a machine whose go
 * is set to GOTOOLCHAIN=local still gets the release the sources need. Debian 12's own golang
 * (1.19) predates toolchain switching; scripts/ci-install.sh installs GO_TOOLCHAIN itself where
 * there is no usable go, and builds the same binaries into the same places with the same markers.
 */
import { join } from 'node:path';
import { buildCached, cacheDir, runOk, type RunResult } from './net.js';

/** The Go release every binary here is built with; SeaweedFS needs ≥ 1.26.6, buf ≥ 1.26.7. */
export const GO_TOOLCHAIN = 'go1.26.8';

/** A cold build of `weed` compiles some 1700 packages: many minutes on two busy cores. */
const BUILD_TIMEOUT_MS = 45 * 60_000;

function goEnv(): NodeJS.ProcessEnv {
  // GOFLAGS from the caller (-mod=vendor, say) would not apply to a module outside this repository.
  return { ...process.env, GOTOOLCHAIN: GO_TOOLCHAIN, GOFLAGS: '-buildvcs=false' };
}

/** Runs go with the pinned toolchain; a missing go names the fix. */
export async function go(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return runOk('go', args, { timeoutMs: BUILD_TIMEOUT_MS, env: { ...goEnv(), ...opts.env }, ...(opts.cwd ? { cwd: opts.cwd } : {}) }).catch(
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`go is not installed: Go ${GO_TOOLCHAIN.slice(2)} (or any go >= 1.21) is needed to build the test tools; scripts/ci-install.sh installs it`);
      }
      throw err;
    },
  );
}

export interface GoBinary {
  /** Cache subdirectory, e.g. `buf-v1.75.0`. */
  dirName: string;
  /** The binary's file name inside it. */
  binary: string;
  /** What the binary is built from: module path and version. A different one builds again. */
  source: string;
  /** Fills `scratch` with the binary; runs only when the cache does not hold this build. */
  build(scratch: string): Promise<void>;
}

/**
 * Path of the binary, built first unless `<cache>/<dirName>` already holds this source built with
 * this toolchain (its .fetched marker is `<source> <toolchain>`).
 */
export async function ensureGoBinary(spec: GoBinary): Promise<string> {
  const dir = await buildCached(join(cacheDir(), spec.dirName), `${spec.source} ${GO_TOOLCHAIN}`, spec.build);
  return join(dir, spec.binary);
}

/** `go mod download` of one module version; returns its read-only source directory in the module cache. */
export async function downloadModule(moduleAtVersion: string): Promise<string> {
  const { stdout } = await go(['mod', 'download', '-json', moduleAtVersion]);
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (info.Dir === undefined) throw new Error(`go mod download ${moduleAtVersion} gave no directory${info.Error ? `: ${info.Error}` : ''}`);
  return info.Dir;
}
