// Gateway health for the heartbeat and the status page: host figures from systeminformation,
// sampled on the heartbeat interval rather than per request (some reads cost tens of ms on a Pi).
import { createRequire } from 'node:module';
import type si from 'systeminformation';
import type { Heartbeat } from '../../../proto/src/wire.js';
import type { ClockState } from '../clock/clock.js';
import type { DrainProgress } from '../forward/drain.js';
import type { AdapterStatus } from '../ingest/adapter.js';
import type { Metrics } from '../metrics.js';
import { oldestAgeMs, type OutboxStats } from '../outbox/outbox.js';

export interface HostSample {
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskFreeBytes: number;
  diskTotalBytes: number;
  temperatureC: number | null;
}

/**
 * The three systeminformation modules the sample reads. Its index loads all twenty (graphics,
 * bluetooth, docker, wifi…), which kept about 1 MB of code on the heap and 2–3 MB of RSS for
 * nothing (docs/profiles/gateway-ingest.md); the package has no `exports` map, so its lib files
 * are its public layout too.
 */
type HostProbes = Pick<typeof si, 'currentLoad' | 'cpuTemperature' | 'mem' | 'fsSize'>;
let probes: HostProbes | undefined;

function hostProbes(): HostProbes {
  if (probes) return probes;
  const load = createRequire(import.meta.url);
  const cpu = load('systeminformation/lib/cpu.js') as Pick<typeof si, 'currentLoad' | 'cpuTemperature'>;
  const memory = load('systeminformation/lib/memory.js') as Pick<typeof si, 'mem'>;
  const filesystem = load('systeminformation/lib/filesystem.js') as Pick<typeof si, 'fsSize'>;
  probes = { currentLoad: cpu.currentLoad, cpuTemperature: cpu.cpuTemperature, mem: memory.mem, fsSize: filesystem.fsSize };
  return probes;
}

export async function sampleHost(dataDir: string): Promise<HostSample> {
  const si = hostProbes();
  const [load, mem, disks, temp] = await Promise.all([
    si.currentLoad().catch(() => null),
    si.mem().catch(() => null),
    si.fsSize().catch(() => []),
    si.cpuTemperature().catch(() => null),
  ]);
  // The filesystem holding the data directory is the one whose fullness matters.
  const disk = disks
    .filter((d) => dataDir.startsWith(d.mount))
    .sort((a, b) => b.mount.length - a.mount.length)[0] ?? disks[0];
  return {
    cpuPercent: load?.currentLoad ?? 0,
    memoryUsedBytes: mem ? mem.total - mem.available : 0,
    memoryTotalBytes: mem?.total ?? 0,
    diskFreeBytes: disk?.available ?? 0,
    diskTotalBytes: disk?.size ?? 0,
    temperatureC: typeof temp?.main === 'number' && Number.isFinite(temp.main) ? temp.main : null,
  };
}

export function buildHeartbeat(args: {
  gatewayId: string;
  firmwareVersion: string;
  startedMs: number;
  host: HostSample;
  outbox: OutboxStats;
  /** Absent before the forwarder has measured anything. */
  drain?: DrainProgress;
  adapters: AdapterStatus[];
  metrics: Metrics;
  /** kafka.heartbeatIntervalMs: the cloud counts missed heartbeats in these. */
  intervalMs: number;
  /** Config from the cloud: the version running, its source, and any refusal or conflict (fields 26-30). */
  config?: Pick<Heartbeat, 'configVersion' | 'configError' | 'configConflict' | 'configSource' | 'configSeenVersion'>;
  /** The gateway clock's state (clock/clock.ts); absent: reported as synced, as before revision 3. */
  clock?: Pick<ClockState, 'synced' | 'lastJumpMs' | 'source'>;
}): Heartbeat {
  const now = Date.now();
  const { host, outbox, metrics } = args;
  return {
    gatewayId: args.gatewayId,
    tsMs: now,
    firmwareVersion: args.firmwareVersion,
    uptimeS: (now - args.startedMs) / 1000,
    cpuPercent: host.cpuPercent,
    memoryUsedBytes: host.memoryUsedBytes,
    memoryTotalBytes: host.memoryTotalBytes,
    diskFreeBytes: host.diskFreeBytes,
    diskTotalBytes: host.diskTotalBytes,
    ...(host.temperatureC === null ? {} : { temperatureC: host.temperatureC }),
    outboxDepth: outbox.depthValues,
    outboxOldestAgeMs: oldestAgeMs(outbox, now),
    adapters: args.adapters,
    loss: { ...metrics.loss },
    deviceLoss: Object.fromEntries([...metrics.deviceLoss].map(([id, l]) => [id, { ...l }])),
    deviceRefusals: Object.fromEntries([...metrics.deviceRefusals].map(([id, r]) => [id, { byReason: Object.fromEntries(r) }])),
    refusals: Object.fromEntries(metrics.reasons),
    drainSentPerSecond: args.drain?.sentPerSecond ?? 0,
    drainInPerSecond: args.drain?.inPerSecond ?? 0,
    ...(args.drain?.etaS == null ? {} : { drainEtaS: args.drain.etaS }),
    outboxBytes: outbox.depthBytes,
    outboxFull: outbox.full ? `${outbox.full.code}: ${outbox.full.reason}` : '',
    outboxRecovered: outbox.recovery ? `moved to ${outbox.recovery.movedTo}: ${outbox.recovery.reason}` : '',
    intervalMs: args.intervalMs,
    // Built now and sent now; only the heartbeat lane marks one that waited (forward/heartbeat-lane.ts).
    delayed: false,
    ...args.config,
    clockSynced: args.clock?.synced ?? true,
    clockOffsetMs: args.clock?.lastJumpMs ?? 0,
    clockSource: args.clock?.source ?? '',
  };
}
