// fieldline-cloud dlq list|replay: the operator's view of iot.sink-dlq and the way back out of it
// (docs/OPERATIONS.md, "Dead letters"). The reading and replaying is consume/dlq-replay.ts.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import type { DlqEntry } from '../consume/dlq.js';
import { replayGroupName, runDlq, type DlqAction, type DlqFilter } from '../consume/dlq-replay.js';
import { FieldlineError } from '../errors.js';

export const DLQ_USAGE = `  fieldline-cloud dlq list [--code FL_ERR_…]… [--gateway ID]… [--json] [--config cloud.yaml]
  fieldline-cloud dlq replay [--code FL_ERR_…]… [--gateway ID]… [--dry-run] [--group NAME] [--json] [--config cloud.yaml]
    list prints each DLQ message (partition, offset, time, code, gateway, seq, readings) and commits nothing.
    replay re-produces each message's original value, key and headers to its source topic, up to the
    DLQ's end as it was at the start, and keeps its place in a consumer group (sink.dlqReplayGroup,
    one per filter), so running it again feeds nothing twice. --dry-run shows what it would feed.`;

export async function dlqMain(argv: string[], loadConfig: (file: string | undefined) => CloudConfig): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      code: { type: 'string', multiple: true, default: [] },
      gateway: { type: 'string', multiple: true, default: [] },
      'dry-run': { type: 'boolean', default: false },
      group: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const sub = positionals[0];
  if ((sub !== 'list' && sub !== 'replay') || positionals.length > 1) {
    console.error(`usage:\n${DLQ_USAGE}`);
    return 2;
  }
  const badCode = values.code.find((c) => !/^FL_ERR_[A-Z0-9_]+$/.test(c));
  if (badCode !== undefined) {
    console.error(`--code ${badCode}: expected a catalogued code, e.g. FL_ERR_SINK_TIME_AHEAD (docs/ERRORS.md)`);
    return 2;
  }
  if (sub === 'list' && (values['dry-run'] || values.group !== undefined)) {
    console.error('--dry-run and --group are for dlq replay; dlq list never commits');
    return 2;
  }
  const cfg = loadConfig(values.config);
  const filter: DlqFilter = { codes: values.code, gateways: values.gateway };
  const mode = sub === 'list' ? 'list' : values['dry-run'] ? 'dry-run' : 'replay';
  const group = values.group ?? replayGroupName(cfg.sink.dlqReplayGroup, filter);
  // stdout is the listing; logs go to stderr, and only warnings unless the config asks for more.
  const log = pino({ level: cfg.logLevel === 'info' ? 'warn' : cfg.logLevel }, pino.destination(2));

  let headed = values.json;
  const print = (e: DlqEntry, action: DlqAction): void => {
    if (action === 'skipped' && mode === 'list') return;
    if (!headed) {
      console.log(['partition', 'offset', 'time', 'code', 'gateway', 'seq', 'readings', ...(mode === 'list' ? [] : ['action', 'to'])].join('\t'));
      headed = true;
    }
    const time = e.timestampMs === null ? null : new Date(e.timestampMs).toISOString();
    if (values.json) {
      console.log(JSON.stringify({
        partition: e.partition, offset: e.offset, time, code: e.code, gateway: e.gatewayId ?? null, seq: e.seq ?? null,
        readings: e.readings ?? null, action, sourceTopic: e.sourceTopic ?? null, error: e.error,
      }));
      return;
    }
    const cols = [e.partition, e.offset, time ?? '-', e.code || '-', e.gatewayId ?? '-', e.seq ?? '-', e.readings ?? '-'];
    if (mode !== 'list') cols.push(action, e.sourceTopic ?? '-');
    console.log(cols.join('\t'));
  };

  try {
    const r = await runDlq({ kafka: cfg.kafka, mode, filter, group, log, onEntry: print });
    const ends = Object.entries(r.ends).map(([p, o]) => `${p}:${o}`).join(' ') || 'none (no such topic)';
    const c = r.counts;
    const what =
      mode === 'list'
        ? `${c.listed} listed`
        : `${mode === 'dry-run' ? `${c['would-replay']} would be replayed` : `${c.replayed} replayed`}, ${c.skipped} left out by the filter, ${c.unroutable} without a source-topic header`;
    console.error(`dlq ${sub}${mode === 'dry-run' ? ' --dry-run' : ''} of ${cfg.kafka.dlqTopic}${r.group ? ` (group ${r.group})` : ''}: ${what}; read up to the end as of the start, partition:offset ${ends}`);
    return 0;
  } catch (err) {
    // Kafka unreachable and the like come from librdkafka without a code of ours.
    console.error(err instanceof FieldlineError ? `${err.code}: ${err.message}` : `dlq ${sub} of ${cfg.kafka.dlqTopic} on ${cfg.kafka.brokers}: ${(err as Error).message}`);
    return 1;
  }
}
