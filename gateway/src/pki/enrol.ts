// Device enrolment, the operations behind `fieldline-gateway device add | revoke | list` and
// GET /pki/devices. All state is in files under <dataDir> (pki/ and devices.db), so they work with
// the gateway stopped or running; a running gateway sees a change at the next connection.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GatewayError } from '../errors.js';
import { isDeviceId } from '../ingest/device-id.js';
import { setEnrolled } from '../pipeline/registry.js';
import { PKI, ensureGatewayPki, loadCa, issueDeviceCertificate, pkiDir, writeCrl } from './ca.js';
import { ensurePrivateDir, matchOwner, writeAtomic } from './files.js';
import { listCertificates, stateOf, updateIndex, type CertRecord, type PkiCertificateRow } from './store.js';

/** Device certificates last this long unless `--days` says otherwise: sensors are rarely re-flashed. */
export const DEFAULT_DEVICE_DAYS = 1825;

/** The gateway's device registry file (gateway.ts opens the same one). */
function registryFile(dataDir: string): string {
  return join(dataDir, 'devices.db');
}

export interface AddDeviceOptions {
  dataDir: string;
  gatewayId: string;
  deviceId: string;
  /** Where the device's files go. */
  outDir: string;
  days?: number;
  /** Issue another certificate although the device holds a valid one (the old one stays valid). */
  renew?: boolean;
}

export interface AddedDevice {
  deviceId: string;
  serial: string;
  notAfter: string;
  /** The CA was made by this call (the gateway had none yet). */
  caCreated: boolean;
  files: { cert: string; key: string; ca: string; bundle: string };
}

export async function addDevice(o: AddDeviceOptions): Promise<AddedDevice> {
  checkDeviceId(o.deviceId);
  const days = o.days ?? DEFAULT_DEVICE_DAYS;
  if (!Number.isInteger(days) || days < 1) {
    throw new GatewayError('FL_ERR_PKI_BAD_ARGUMENT', `--days: expected a whole number of days ≥ 1 (got ${JSON.stringify(o.days)})`);
  }
  const dataDir = resolve(o.dataDir);
  const dir = pkiDir(dataDir);
  const { created } = await ensureGatewayPki(dataDir, o.gatewayId);
  const ca = await loadCa(dir);
  const out = resolve(o.outDir);
  const files = {
    cert: join(out, `${o.deviceId}.crt`),
    key: join(out, `${o.deviceId}.key`),
    ca: join(out, 'ca.crt'),
    bundle: join(out, `${o.deviceId}.pem`),
  };
  const issued = await updateIndex(dir, async (records) => {
    const valid = records.filter((r) => r.deviceId === o.deviceId && stateOf(r) === 'valid');
    if (valid.length > 0 && !o.renew) {
      const list = valid.map((r) => `serial ${r.serial} until ${r.notAfter}`).join(', ');
      throw new GatewayError('FL_ERR_PKI_ALREADY_ENROLLED', `${o.deviceId} holds ${list}`);
    }
    const cert = await issueDeviceCertificate(ca, o.deviceId, days);
    // The device's files before the index: a certificate on record whose key never reached the
    // tech would block a plain `device add` for nothing.
    mkdirSync(out, { recursive: true });
    writeAtomic(files.key, cert.keyPem, 0o600);
    writeAtomic(files.cert, cert.certPem, 0o644);
    writeAtomic(files.ca, ca.certPem, 0o644);
    writeAtomic(files.bundle, cert.certPem + cert.keyPem, 0o600);
    ensurePrivateDir(join(dir, PKI.issued));
    writeAtomic(join(dir, PKI.issued, `${cert.serial}.crt`), cert.certPem, 0o644);
    const rec: CertRecord = {
      deviceId: o.deviceId,
      serial: cert.serial,
      issuedAt: new Date().toISOString(),
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    };
    return { records: [...records, rec], result: rec };
  });
  enrol(dataDir, o.deviceId, true);
  return { deviceId: o.deviceId, serial: issued.serial, notAfter: issued.notAfter, caCreated: created, files };
}

export interface RevokeResult {
  deviceId: string;
  /** The certificates revoked now; empty when all were revoked before. */
  revoked: CertRecord[];
  crlFile: string;
}

/** Revokes every certificate of the device, rewrites the CRL, and un-enrols the device. */
export async function revokeDevice(dataDir: string, deviceId: string, reason?: string): Promise<RevokeResult> {
  checkDeviceId(deviceId);
  const root = resolve(dataDir);
  const dir = pkiDir(root);
  const ca = await loadCa(dir);
  const revoked = await updateIndex(dir, async (records) => {
    if (!records.some((r) => r.deviceId === deviceId)) {
      const known = [...new Set(records.map((r) => r.deviceId))];
      throw new GatewayError('FL_ERR_PKI_NOT_ENROLLED', `${deviceId} (enrolled: ${known.join(', ') || 'none'})`);
    }
    const at = new Date().toISOString();
    const now: CertRecord[] = [];
    const next = records.map((r) => {
      if (r.deviceId !== deviceId || r.revokedAt) return r;
      const rec = { ...r, revokedAt: at, ...(reason ? { reason } : {}) };
      now.push(rec);
      return rec;
    });
    // Under the lock, so two revocations at once cannot leave a CRL that misses one of them.
    const all = next.filter((r) => r.revokedAt).map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt!), reason: r.reason }));
    await writeCrl(dir, ca, all);
    return { records: next, result: now };
  });
  enrol(root, deviceId, false);
  return { deviceId, revoked, crlFile: join(dir, PKI.crl) };
}

/** Every certificate the gateway's CA issued, with its state; none when there is no CA yet. */
export function listDevices(dataDir: string): PkiCertificateRow[] {
  return listCertificates(pkiDir(resolve(dataDir)));
}

function enrol(dataDir: string, deviceId: string, enrolled: boolean): void {
  const file = registryFile(dataDir);
  setEnrolled(file, deviceId, enrolled);
  // As root, a registry this command created must still be the service user's to write.
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) matchOwner(f, dataDir);
}

function checkDeviceId(id: string): void {
  if (!isDeviceId(id)) throw new GatewayError('FL_ERR_INGEST_DEVICE_ID', `got ${JSON.stringify(id)}`);
}
