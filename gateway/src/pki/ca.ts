// The gateway's own small CA (issue 13, device enrolment): one ECDSA P-256 key and a self-signed
// CA certificate under <dataDir>/pki, which signs the gateway's MQTT TLS server certificate and
// the client certificates `fieldline-gateway device add` issues. Everything is made with
// @peculiar/x509 on node:crypto's WebCrypto (no openssl shell-outs, so it works the same on a
// balena image that ships no openssl binary); node:crypto's X509Certificate reads them back.
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { ensurePrivateDir, writeAtomic } from './files.js';
import { PKI, pkiDir } from './names.js';
import { readIndex, withPkiLock } from './store.js';
import { EC_ALG, x509 } from './x509.js';

export { PKI, normalizeSerial, pkiDir } from './names.js';

const DAY_MS = 86_400_000;
export const CA_DAYS = 3650;
const SERVER_DAYS = 825;
/** A server certificate this close to its end is renewed at the next start. */
const SERVER_RENEW_MS = 30 * DAY_MS;
/** A CRL is valid this long; the gateway rewrites it at each start and each revocation. */
const CRL_DAYS = 365;
/** notBefore this far back, for devices whose clock runs a little behind the gateway's. */
const BACKDATE_MS = 5 * 60_000;


export interface GatewayPki {
  caCertFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** true when this call made the CA (a new CA: certificates of an earlier one are not trusted). */
  created: boolean;
  /** true when the server certificate was (re)issued by this call: new, near its end, or the host's names changed. */
  serverReissued: boolean;
}

export interface LoadedCa {
  /** PEM of the CA certificate. */
  certPem: string;
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
}

/**
 * Makes <dataDir>/pki (0700) with the CA key (0600) and certificate, a server certificate for the
 * MQTT TLS listener and an empty CRL, unless they exist. Idempotent: an existing CA is kept; the
 * server certificate is reissued by the same CA when it is missing, within 30 days of its end, or
 * does not name this host's current names and addresses (so devices that check the host name keep
 * connecting after a DHCP change).
 */
export async function ensureGatewayPki(dataDir: string, gatewayId: string): Promise<GatewayPki> {
  const dir = pkiDir(dataDir);
  ensurePrivateDir(dir);
  // Under the writers' lock: a gateway starting while `device add` runs must not make two CAs.
  return withPkiLock(dir, async () => {
    const caCertFile = join(dir, PKI.caCert);
    const caKeyFile = join(dir, PKI.caKey);
    let created = false;
    if (!existsSync(caCertFile) || !existsSync(caKeyFile)) {
      // Half a CA with devices enrolled: making a new one would silently orphan them. Without any
      // (a power cut while the CA was first written) starting over costs nothing.
      if (existsSync(caCertFile) !== existsSync(caKeyFile) && readIndex(dir).length > 0) {
        throw new GatewayError('FL_ERR_PKI_DAMAGED', `${existsSync(caCertFile) ? caKeyFile : caCertFile} is missing beside its pair; restore pki/ from a backup (docs/OPERATIONS.md)`);
      }
      await createCa(dir, gatewayId);
      created = true;
    }
    const ca = await loadCa(dir);
    const serverCertFile = join(dir, PKI.serverCert);
    const serverKeyFile = join(dir, PKI.serverKey);
    const names = hostNames(gatewayId);
    const serverReissued = !serverCertFits(serverCertFile, serverKeyFile, ca, names);
    if (serverReissued) await issueServerCertificate(dir, ca, names);
    if (created || !existsSync(join(dir, PKI.crl))) await writeCrl(dir, ca, []);
    return { caCertFile, serverCertFile, serverKeyFile, created, serverReissued };
  });
}

async function createCa(dir: string, gatewayId: string): Promise<void> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: [{ CN: [`Fieldline gateway ${gatewayId} device CA`] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + CA_DAYS * DAY_MS),
    signingAlgorithm: EC_ALG,
    keys,
    extensions: [
      // pathLen 0: this CA signs end-entity certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  // The key first: a certificate without its key is the state ensureGatewayPki refuses to repair.
  writeAtomic(join(dir, PKI.caKey), await keyPem(keys.privateKey), 0o600);
  writeAtomic(join(dir, PKI.caCert), cert.toString('pem') + '\n', 0o644);
}

/** The CA's certificate and signing key; FL_ERR_PKI_NO_CA when there is none yet. */
export async function loadCa(dir: string): Promise<LoadedCa> {
  const certFile = join(dir, PKI.caCert);
  const keyFile = join(dir, PKI.caKey);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    throw new GatewayError('FL_ERR_PKI_NO_CA', `no ${PKI.caCert} and ${PKI.caKey} in ${dir}`);
  }
  try {
    const certPem = readFileSync(certFile, 'utf8');
    const cert = new x509.X509Certificate(certPem);
    const der = x509.PemConverter.decodeFirst(readFileSync(keyFile, 'utf8'));
    const key = await webcrypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign']);
    return { certPem, cert, key };
  } catch (err) {
    throw new GatewayError('FL_ERR_PKI_DAMAGED', `${dir}: ${(err as Error).message}`, { cause: err });
  }
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n';
}

/**
 * 16 random bytes as upper-case hex, first byte 0x40-0x7F: positive as a DER INTEGER, no leading
 * zero to strip, so the index, the CRL and a TLS peer certificate all spell it the same way.
 */
export function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex').toUpperCase();
}


interface HostNames {
  dns: string[];
  ips: string[];
}

/** The names a device may use to reach this gateway: its id, the host name, localhost, and every address. */
export function hostNames(gatewayId: string): HostNames {
  const dns = [...new Set([gatewayId, hostname(), 'localhost'].filter((n) => n !== ''))];
  const ips = new Set(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      // Link-local IPv6 needs a zone id a certificate cannot carry.
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue;
      ips.add(a.address);
    }
  }
  return { dns, ips: [...ips] };
}

function serverCertFits(certFile: string, keyFile: string, ca: LoadedCa, names: HostNames): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch {
    return false;
  }
  const caCert = new X509Certificate(ca.certPem);
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return false;
  // A power cut between writing the new key and the new certificate leaves a mismatched pair.
  try {
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) return false;
  } catch {
    return false;
  }
  if (Date.parse(cert.validTo) - Date.now() < SERVER_RENEW_MS) return false;
  const san = new Set((cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^IP Address:/, 'IP:')));
  return names.dns.every((n) => san.has(`DNS:${n}`)) && names.ips.every((ip) => san.has(`IP:${canonicalIp(ip)}`));
}

/** node:crypto prints IPv6 SANs in full upper-case form; compare in the same spelling. */
function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.toUpperCase().replace(/^0+(?=.)/, '')).join(':');
}

async function issueServerCertificate(dir: string, ca: LoadedCa, names: HostNames): Promise<void> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await signLeaf(ca, keys.publicKey, {
    serial: newSerial(),
    cn: names.dns[0] ?? 'fieldline-gateway',
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + SERVER_DAYS * DAY_MS, ca.cert.notAfter.getTime())),
    usage: x509.ExtendedKeyUsage.serverAuth,
    sans: [...names.dns.map((value) => ({ type: 'dns' as const, value })), ...names.ips.map((value) => ({ type: 'ip' as const, value }))],
  });
  writeAtomic(join(dir, PKI.serverKey), await keyPem(keys.privateKey), 0o600);
  writeAtomic(join(dir, PKI.serverCert), cert.toString('pem') + '\n', 0o644);
}

/** An end-entity certificate signed by the CA: not a CA itself, digitalSignature, one extended usage. */
async function signLeaf(
  ca: LoadedCa,
  publicKey: webcrypto.CryptoKey,
  leaf: { serial: string; cn: string; notBefore: Date; notAfter: Date; usage: string; sans: { type: 'dns' | 'ip'; value: string }[] },
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: leaf.serial,
    subject: [{ CN: [leaf.cn] }],
    issuer: ca.cert.subjectName,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    signingAlgorithm: EC_ALG,
    publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([leaf.usage]),
      new x509.SubjectAlternativeNameExtension(leaf.sans),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  });
}

export interface IssuedCertificate {
  serial: string;
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * A client certificate for `deviceId`: subject CN and one DNS SAN both the id (so
 * mqtt.tls.identityFrom cn and san read the same id), clientAuth only, a random serial.
 */
export async function issueDeviceCertificate(ca: LoadedCa, deviceId: string, days: number, now = Date.now()): Promise<IssuedCertificate> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']);
  const serial = newSerial();
  const notBefore = new Date(now - BACKDATE_MS);
  const notAfter = new Date(now + days * DAY_MS);
  if (notAfter > ca.cert.notAfter) {
    const left = Math.floor((ca.cert.notAfter.getTime() - now) / DAY_MS);
    throw new GatewayError('FL_ERR_PKI_BAD_ARGUMENT', `--days ${days} would outlive the CA, which ends ${ca.cert.notAfter.toISOString()} (at most ${left} days)`);
  }
  const cert = await signLeaf(ca, keys.publicKey, {
    serial, cn: deviceId, notBefore, notAfter, usage: x509.ExtendedKeyUsage.clientAuth, sans: [{ type: 'dns', value: deviceId }],
  });
  return { serial, certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey), notBefore, notAfter };
}

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  /** Free text; a name of RFC 5280's CRLReason (keyCompromise, superseded, …) also goes into the CRL entry. */
  reason?: string | undefined;
}

function crlReason(reason: string | undefined): x509.X509CrlReason | undefined {
  const code = reason === undefined ? undefined : (x509.X509CrlReason as unknown as Record<string, number | undefined>)[reason];
  return typeof code === 'number' ? code : undefined;
}

/** Writes pki/crl.pem, signed by the CA, listing `revoked`. */
export async function writeCrl(dir: string, ca: LoadedCa, revoked: RevokedEntry[], now = Date.now()): Promise<void> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: new Date(now),
    nextUpdate: new Date(now + CRL_DAYS * DAY_MS),
    signingAlgorithm: EC_ALG,
    signingKey: ca.key,
    entries: revoked.map((r) => {
      const reason = crlReason(r.reason);
      return { serialNumber: r.serial, revocationDate: r.revokedAt, ...(reason === undefined ? {} : { reason }) };
    }),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey)],
  });
  // OpenSSL reads only the "X509 CRL" PEM label; the library's own label is "CRL".
  writeAtomic(join(dir, PKI.crl), x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n', 0o644);
}
