// The commands behaviour suite on the embedded TimescaleDB (PGlite, one connection: the races run
// interleaved on it rather than truly at once).
import { openEmbedded } from '../../cloud-sink/src/store/db.js';
import { commandsBehaviour } from './commands.behaviour.js';

commandsBehaviour({ name: 'embedded PGlite + TimescaleDB', open: () => openEmbedded(undefined) });
