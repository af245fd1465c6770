import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsumerStats } from './consume/store-consumer.js';
import { lakeTallies, type LakeStats } from './lake/worker.js';
import { CloudMetrics } from './metrics.js';

function stats(over: Partial<ConsumerStats> = {}): ConsumerStats {
  return {
    state: 'up', lastError: '', messages: 0, batchesInserted: 0, batchesSkipped: 0, rowsInserted: 0, rowsRejected: 0,
    deadLettered: 0, deadLettersByCode: {}, schemaHeaderMismatches: 0, consumeErrors: 0, storeErrors: 0, lastCommitMs: null, rowsTimeFlagged: {},
    lanes: { live: { batches: 0, readings: 0 }, backlog: { batches: 0, readings: 0 } }, ...over,
  };
}

describe('cloud metrics', () => {
  it('serve the consumer tallies as the stage counters, with the errors counter and the process metrics', async () => {
    const c = stats({ messages: 12, rowsInserted: 340, batchesSkipped: 2, deadLettered: 1, rowsRejected: 3, consumeErrors: 4, storeErrors: 5 });
    const m = new CloudMetrics(() => c);
    m.count('api', 'errors');
    const text = await m.render();
    assert.match(text, /^fieldline_cloud_received_total\{stage="consume"\} 12$/m);
    assert.match(text, /^fieldline_cloud_sent_total\{stage="store"\} 340$/m);
    assert.match(text, /^fieldline_cloud_dropped_total\{stage="store",reason="duplicate_batch"\} 2$/m);
    assert.match(text, /^fieldline_cloud_dropped_total\{stage="consume",reason="dead_letter"\} 1$/m);
    assert.match(text, /^fieldline_cloud_dropped_total\{stage="store",reason="invalid"\} 3$/m);
    assert.match(text, /^fieldline_cloud_errors_total\{stage="consume"\} 4$/m);
    assert.match(text, /^fieldline_cloud_errors_total\{stage="store"\} 5$/m);
    assert.match(text, /^fieldline_cloud_errors_total\{stage="api"\} 1$/m);
    assert.match(text, new RegExp(`^nodejs_version_info\\{version="${process.version}".*\\} 1$`, 'm'));
    assert.match(text, /^process_resident_memory_bytes \d+/m);

    c.messages = 13;
    assert.match(await m.render(), /^fieldline_cloud_received_total\{stage="consume"\} 13$/m, 'read live at every scrape');
  });

  it('count readings stored with a time their gateway flagged, by reason', async () => {
    const text = await new CloudMetrics(() => stats({ rowsTimeFlagged: { FL_ERR_CLOCK_REBOOTED: 7 } })).render();
    assert.match(text, /^fieldline_cloud_readings_time_flagged_total\{reason="FL_ERR_CLOCK_REBOOTED"\} 7$/m);
  });

  it('count batches and readings per gateway lane, live and backlog', async () => {
    const c = stats({ lanes: { live: { batches: 7, readings: 70 }, backlog: { batches: 2, readings: 10_000 } } });
    const text = await new CloudMetrics(() => c).render();
    assert.match(text, /^fieldline_cloud_lane_batches_total\{lane="live"\} 7$/m);
    assert.match(text, /^fieldline_cloud_lane_batches_total\{lane="backlog"\} 2$/m);
    assert.match(text, /^fieldline_cloud_lane_readings_total\{lane="live"\} 70$/m);
    assert.match(text, /^fieldline_cloud_lane_readings_total\{lane="backlog"\} 10000$/m);
  });

  it('count dead letters per catalogued code, and schema-version headers that disagree with the field', async () => {
    const c = stats({ deadLettered: 3, deadLettersByCode: { FL_ERR_WIRE_LZ4: 1, FL_ERR_SINK_TIME_AHEAD: 2 }, schemaHeaderMismatches: 4 });
    const text = await new CloudMetrics(() => c).render();
    assert.match(text, /^# TYPE fieldline_cloud_dead_letters_total counter$/m);
    assert.match(text, /^fieldline_cloud_dead_letters_total\{code="FL_ERR_WIRE_LZ4"\} 1$/m);
    assert.match(text, /^fieldline_cloud_dead_letters_total\{code="FL_ERR_SINK_TIME_AHEAD"\} 2$/m);
    assert.match(text, /^fieldline_cloud_dropped_total\{stage="consume",reason="dead_letter"\} 3$/m, 'the stage counter keeps the total');
    assert.match(text, /^fieldline_cloud_schema_header_mismatches_total 4$/m);
  });

  it('without a consumer (the api role) only the API counts and the process metrics are served', async () => {
    const text = await new CloudMetrics(() => undefined).render();
    assert.doesNotMatch(text, /stage="consume"/);
    assert.match(text, /^# TYPE fieldline_cloud_errors_total counter$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
  });

  it('serve the lake writer\'s tallies under stage="lake", with its files, bytes and replayed ranges', async () => {
    const l: LakeStats = {
      state: 'up', lastError: '', messages: 50, messagesSkipped: 2, skippedByCode: { FL_ERR_WIRE_LZ4: 2 }, rowsRejected: 3, duplicateBatches: 1, rowsWritten: 900, filesWritten: 7,
      bytesWritten: 12_345, rangesCommitted: 4, rangesReplayed: 1, staleDropped: 6, offsetsLost: 0, bufferedRows: 10, consumeErrors: 1,
      writeErrors: 2, lastCommitMs: null, lastRollMs: null,
    };
    const text = await new CloudMetrics(() => undefined, () => [lakeTallies(l)], () => l).render();
    assert.match(text, /^fieldline_cloud_received_total\{stage="lake"\} 50$/m);
    assert.match(text, /^fieldline_cloud_sent_total\{stage="lake"\} 900$/m);
    assert.match(text, /^fieldline_cloud_dropped_total\{stage="lake",reason="refused"\} 2$/m);
    assert.match(text, /^fieldline_cloud_dropped_total\{stage="lake",reason="invalid"\} 3$/m);
    assert.match(text, /^fieldline_cloud_errors_total\{stage="lake"\} 3$/m);
    assert.match(text, /^fieldline_cloud_lake_files_written_total 7$/m);
    assert.match(text, /^fieldline_cloud_lake_bytes_written_total 12345$/m);
    assert.match(text, /^fieldline_cloud_lake_ranges_replayed_total 1$/m);
    assert.doesNotMatch(text, /stage="consume"/);
  });
});
