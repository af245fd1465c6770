// Who may publish and subscribe where. A device (identified by its certificate, its login, or on
// open listeners its client id) owns devices/{id}/ and nothing else.

/** Names that would reach Object.prototype if used as a key (known aedes crash inputs). */
const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

export function isPrototypeName(s: string): boolean {
  return PROTOTYPE_NAMES.has(s);
}

const OWN_PREFIX = 'devices/';

/** Asked for every PUBLISH, so it compares in place rather than building `devices/${deviceId}/`. */
export function mayPublish(deviceId: string, topic: string): boolean {
  return topic.startsWith(OWN_PREFIX) && topic.startsWith(deviceId, OWN_PREFIX.length) && topic.charCodeAt(OWN_PREFIX.length + deviceId.length) === 0x2f;
}

/** [MQTT-4.7.1]: '#' and '+' are wildcards; a device may only subscribe inside its own subtree. */
export function maySubscribe(deviceId: string, filter: string): boolean {
  if (filter.startsWith('$')) return false;
  const own = `devices/${deviceId}/`;
  return filter.startsWith(own) || filter === `devices/${deviceId}/#`;
}
