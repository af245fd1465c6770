// Where the gateway's PKI files live and how a serial is spelled: shared by the CA (ca.ts), the
// index (store.ts) and the MQTT listener's revocation check, without loading the X.509 library.
import { join } from 'node:path';

/** File names inside <dataDir>/pki. */
export const PKI = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  crl: 'crl.pem',
  index: 'index.json',
  /** A copy of every device certificate issued, as <serial>.crt (never the device's key). */
  issued: 'issued',
} as const;

export function pkiDir(dataDir: string): string {
  return join(dataDir, 'pki');
}

/** A serial as node:crypto and OpenSSL print it, reduced to the index's spelling. */
export function normalizeSerial(hex: string): string {
  return hex.replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+(?=.)/, '');
}
