/**
 * `buf` (github.com/bufbuild/buf) for the schema checks: `buf breaking` compares proto/ with the
 * released snapshot under proto/released/ (see buf.yaml at the repository root).
 */
import { ensureGoBinary, go } from './go.js';

export const BUF_VERSION = 'v1.75.0';
const BUF_PACKAGE = 'github.com/bufbuild/buf/cmd/buf';

/** Path of the buf binary, `<cache>/buf-<version>/buf`, built with `go install` on first use. */
export function ensureBuf(): Promise<string> {
  return ensureGoBinary({
    dirName: `buf-${BUF_VERSION}`,
    binary: 'buf',
    source: `${BUF_PACKAGE}@${BUF_VERSION}`,
    build: async (scratch) => {
      await go(['install', '-ldflags=-s -w', `${BUF_PACKAGE}@${BUF_VERSION}`], { env: { GOBIN: scratch } });
    },
  });
}
