#!/usr/bin/env node
// Writes docs/ERRORS.md from every error catalogue (the list is scripts/errors-doc.ts); run after `npm run build`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const { renderErrorsDoc } = await import(join(root, 'dist/scripts/errors-doc.js'));
writeFileSync(join(root, 'docs', 'ERRORS.md'), renderErrorsDoc());
