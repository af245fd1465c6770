// devices/{deviceId}/telemetry (JSON) and devices/{deviceId}/telemetry/pb (protobuf Reading).
import { isDeviceId } from '../device-id.js';

export type TelemetryTopic =
  | { kind: 'telemetry'; deviceId: string; format: 'json' | 'protobuf' }
  | { kind: 'bad-device-id'; deviceId: string }
  | { kind: 'other' };

export function parseTopic(topic: string): TelemetryTopic {
  const parts = topic.split('/');
  if (parts[0] !== 'devices' || parts[2] !== 'telemetry') return { kind: 'other' };
  if (parts.length > 4 || (parts.length === 4 && parts[3] !== 'pb')) return { kind: 'other' };
  const deviceId = parts[1] ?? '';
  if (!isDeviceId(deviceId)) return { kind: 'bad-device-id', deviceId };
  return { kind: 'telemetry', deviceId, format: parts.length === 4 ? 'protobuf' : 'json' };
}
