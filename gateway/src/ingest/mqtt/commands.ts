// Commands to MQTT devices: the topics, and the filter match that says whether a client's
// subscription covers a device's commands topic [MQTT-4.7.1].

/** Where a device receives its commands. */
export function commandsTopic(deviceId: string): string {
  return `devices/${deviceId}/commands`;
}

/** devices/{anything}/commands: a topic only the gateway publishes on. */
export function isCommandsTopic(topic: string): boolean {
  return topic.startsWith('devices/') && topic.endsWith('/commands') && topic.indexOf('/', 8) === topic.length - 9;
}

/** Where a device answers them: {"id", "ok": true} or {"id", "ok": false, "error"}. Not telemetry. */
export function commandAckTopic(deviceId: string): string {
  return `devices/${deviceId}/commands/ack`;
}

/** Whether the subscription `filter` matches `topic`: '+' one level, '#' the rest [MQTT-4.7.1-2, -3]. */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** What the adapter tells the commands part (commands/service.ts). */
export interface MqttCommandEvents {
  /** A client of the device subscribed (or came back with a session that holds subscriptions). */
  subscribed(deviceId: string): void;
  /** The device published on its ack topic. */
  ack(deviceId: string, payload: Buffer): void;
}
