#!/usr/bin/env node
// Regenerates proto/gen/ from proto/*.proto with protobufjs-cli. The output is committed, and a
// test checks that running this script again leaves it unchanged.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'proto');
const outDir = process.argv[2] ?? join(protoDir, 'gen');
const bin = join(root, 'node_modules', '.bin');
mkdirSync(outDir, { recursive: true });

const protos = readdirSync(protoDir).filter((f) => f.endsWith('.proto')).map((f) => join(protoDir, f));
const js = join(outDir, 'telemetry.js');
execFileSync(join(bin, 'pbjs'), [
  '-t', 'static-module', '-w', 'es6', '--es6', '--force-number', '--no-verify', '--no-delimited',
  '--dependency', 'protobufjs/minimal.js', '-o', js, ...protos,
], { stdio: 'inherit' });
execFileSync(join(bin, 'pbts'), ['--no-comments', '-o', join(outDir, 'telemetry.d.ts'), js], { stdio: 'inherit' });
