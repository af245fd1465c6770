import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { outboxBehaviour } from './outbox.behaviour.js';
import { SqliteOutbox } from './sqlite-outbox.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-outbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

outboxBehaviour('SQLite (synchronous=FULL)', { open: (name) => new SqliteOutbox({ path: join(dir, `${name}.db`) }) });
