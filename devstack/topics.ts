// The Kafka topics of DESIGN.md with their default names, as the dev stack and the demo create them.
// Compacted topics are tables keyed by id (the latest record per key is the state), the rest are logs.
import type { KafkaTopic } from './kafka.js';

const compacted = { 'cleanup.policy': 'compact' };

export const FIELDLINE_TOPICS: readonly KafkaTopic[] = [
  { name: 'iot.readings', partitions: 3 },
  { name: 'iot.heartbeats', partitions: 3 },
  { name: 'iot.quarantine', partitions: 3 },
  { name: 'iot.rules', partitions: 1, config: compacted },
  { name: 'iot.alerts', partitions: 3 },
  { name: 'iot.sink-dlq', partitions: 3 },
  { name: 'iot.aggregates.1m', partitions: 3 },
  { name: 'iot.gateway-config', partitions: 3, config: compacted },
  { name: 'iot.commands', partitions: 3 },
  { name: 'iot.command-status', partitions: 3 },
];
