import { readFileSync } from 'node:fs';

// Compiled to dist/gateway/src/version.js, three levels below the package root as the source is.
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The package version, or FIELDLINE_VERSION where a fleet build stamps its own. */
export const VERSION: string = process.env.FIELDLINE_VERSION ?? pkg.version;
