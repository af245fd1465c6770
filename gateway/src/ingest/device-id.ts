// The device id rule, the one place it is written. Every adapter and the config check ids against it,
// so an id a device may use on MQTT is also a valid CoAP path segment, Modbus deviceId and
// devices.known entry, and the pipeline can key per-device state (rate limits, loss counters) by it.
// The characters are safe in an MQTT topic level, a URI path segment, a Kafka key and a Prometheus
// label. 128 is also the longest client id the MQTT broker takes (mqtt/adapter.ts), since an
// anonymous MQTT client's device id is its client id.
import { z } from 'zod';

export const DEVICE_ID_MAX_LENGTH = 128;

const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const NOT_DEVICE_ID_CHAR = /[^A-Za-z0-9_.:-]/g;

/** The config's wording; FL_ERR_INGEST_DEVICE_ID (errors.ts) says the same to devices. */
export const DEVICE_ID_EXPECTED = 'expected 1-128 characters of A-Z a-z 0-9 _ . : -';

export function isDeviceId(text: string): boolean {
  return DEVICE_ID.test(text);
}

export const deviceIdSchema = z.string().regex(DEVICE_ID, DEVICE_ID_EXPECTED);

/**
 * `text` made into a valid id: other characters become '-', and it is cut to the longest length;
 * `fallback` when nothing is left. For names the gateway derives itself (its hostname), never for
 * what a device sends, which is refused instead.
 */
export function toDeviceId(text: string, fallback: string): string {
  return text.replace(NOT_DEVICE_ID_CHAR, '-').slice(0, DEVICE_ID_MAX_LENGTH) || fallback;
}
