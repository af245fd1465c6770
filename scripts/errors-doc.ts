// Every error catalogue in the repository and the docs/ERRORS.md made from them. One list, read by
// scripts/gen-errors-doc.mjs (which writes the file) and test/docs/errors.test.ts (which checks it):
// a new catalogue is one line here.
import { catalogue as cloud } from '../cloud-sink/src/errors.js';
import { catalogue as config } from '../common/src/config.js';
import type { CatalogueEntry } from '../common/src/errors.js';
import { catalogue as gateway } from '../gateway/src/errors.js';
import { catalogue as wire } from '../proto/src/errors.js';

export interface CatalogueSection {
  title: string;
  /** Where the catalogue is defined, relative to the repository root. */
  source: string;
  /** Where these codes show up, when it is not an HTTP answer. */
  note?: string;
  catalogue: Readonly<Record<string, CatalogueEntry>>;
}

export const catalogues: readonly CatalogueSection[] = [
  { title: 'Gateway', source: 'gateway/src/errors.ts', catalogue: gateway },
  { title: 'Cloud', source: 'cloud-sink/src/errors.ts', catalogue: cloud },
  {
    title: 'Wire',
    source: 'proto/src/errors.ts',
    note: 'Never an HTTP answer: the sink dead-letters the message with `<code>: <message>` in its `error` header (a batch the sanity checks refuse carries an `FL_ERR_SINK_…` code there, one the database refuses `FL_ERR_STORE_BAD_BATCH`). The status says the bytes themselves are bad, so redelivering them cannot help, except after `FL_ERR_WIRE_SCHEMA_VERSION` once the sink knows the major.',
    catalogue: wire,
  },
  {
    title: 'Configuration',
    source: 'common/src/config.ts',
    note: 'Refuses start-up (exit code 78, which systemd does not restart); the message lists every problem, one a line, naming the key, the value and what was expected.',
    catalogue: config,
  },
];

export function row(code: string, entry: CatalogueEntry): string {
  return `| \`${code}\` | ${entry.status} | ${entry.message.replace(/\|/g, '\\|')} |`;
}

export function renderErrorsDoc(): string {
  let out = `# Error catalogue

Every refusal carries a stable code \`FL_ERR_<AREA>_<WHAT>\`. HTTP answers use the status shown and the
body \`{"error": {"code", "message"}}\`; the message starts with the text below and adds the detail
(which value, and why). Quarantine records carry the code as \`reason_code\`.
Generated from the catalogues (\`common/src/errors.ts\`, \`defineCatalogue\`) by \`node scripts/gen-errors-doc.mjs\`;
\`test/docs/errors.test.ts\` fails when a code is missing here or used in the code without a catalogue entry.
`;
  for (const s of catalogues) {
    out += `\n## ${s.title} (${s.source})\n\n`;
    if (s.note) out += `${s.note}\n\n`;
    out += '| code | status | message |\n|---|---|---|\n';
    for (const [code, entry] of Object.entries(s.catalogue)) out += `${row(code, entry)}\n`;
  }
  return out;
}
