// Acceptance 2 of issue 12 on the embedded TimescaleDB (PGlite): continuous aggregates with
// real-time aggregation, and retention applied by TimescaleDB's own policies (drop_chunks).
import { openEmbedded } from '../../cloud-sink/src/store/db.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { aggregatesAcceptance, RETENTION } from './aggregates.behaviour.js';

aggregatesAcceptance({
  name: 'embedded PGlite + TimescaleDB',
  open: () => openEmbedded(undefined),
  async drop(store) {
    const defaults = cloudConfigSchema.parse({}).timescale;
    await store.applyTimescaleSettings({
      ...defaults,
      readingsRetention: RETENTION.readings,
      rollupRetention: { readings_1m: RETENTION.readings_1m, readings_1h: RETENTION.readings_1h, readings_1d: RETENTION.readings_1d },
    });
    await store.runPolicyJobs();
  },
});
