// The gateway's device CA: what ensureGatewayPki makes (and keeps), what `device add` issues, and
// what `device revoke` records, checked with node:crypto's X509Certificate (an independent reader)
// and by the registry and the MQTT listener's revocation check that consume the files.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gatewayConfigSchema } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import { DeviceRegistry } from '../pipeline/registry.js';
import { PKI, ensureGatewayPki, pkiDir } from './ca.js';
import { addDevice, listDevices, revokeDevice } from './enrol.js';
import { RevocationIndex } from './revocation.js';
import { readIndex } from './store.js';
import { x509 } from './x509.js';

const root = mkdtempSync(join(tmpdir(), 'fieldline-pki-'));
after(() => rmSync(root, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;
const cert = (p: string) => new X509Certificate(readFileSync(p));
const code = (c: string) => (err: unknown) => err instanceof FieldlineError && err.code === c;

describe('gateway CA', () => {
  const dataDir = join(root, 'gw');
  const dir = pkiDir(dataDir);

  it('ensureGatewayPki makes a private pki/ with a 10-year CA, a 0600 CA key and a server certificate the CA signed', async () => {
    const pki = await ensureGatewayPki(dataDir, 'gw-7');
    assert.equal(pki.created, true);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(join(dir, PKI.caKey)), 0o600);
    assert.equal(mode(pki.serverKeyFile), 0o600);

    const ca = cert(pki.caCertFile);
    assert.equal(ca.ca, true);
    assert.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey), 'self-signed');
    const years = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365.25 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, `~10 years, got ${years}`);
    const usages = new x509.X509Certificate(readFileSync(pki.caCertFile, 'utf8')).getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
    assert.equal(usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

    const server = cert(pki.serverCertFile);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey), 'the CA signed the server certificate');
    assert.equal(server.ca, false);
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth');
    for (const san of ['DNS:gw-7', 'DNS:localhost', 'IP Address:127.0.0.1']) assert.ok(server.subjectAltName?.includes(san), `${san} in ${server.subjectAltName}`);
  });

  it('ensureGatewayPki called twice at once (as by a gateway starting during device add) makes one CA, under the file lock', async () => {
    const both = join(root, 'race');
    const [a, b] = await Promise.all([ensureGatewayPki(both, 'gw-9'), ensureGatewayPki(both, 'gw-9')]);
    assert.equal(Number(a.created) + Number(b.created), 1);
    const ca = cert(join(pkiDir(both), PKI.caCert));
    const key = (await import('node:crypto')).createPrivateKey(readFileSync(join(pkiDir(both), PKI.caKey)));
    assert.ok(ca.checkPrivateKey(key), 'the CA key is the CA certificate\'s');
    assert.ok(cert(a.serverCertFile).checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(a.serverKeyFile))));
  });

  it('is idempotent: a second call keeps the CA and the server certificate', async () => {
    const before = { ca: readFileSync(join(dir, PKI.caCert), 'utf8'), key: readFileSync(join(dir, PKI.caKey), 'utf8'), server: readFileSync(join(dir, PKI.serverCert), 'utf8') };
    const again = await ensureGatewayPki(dataDir, 'gw-7');
    assert.equal(again.created, false);
    assert.equal(again.serverReissued, false);
    assert.deepEqual(
      { ca: readFileSync(join(dir, PKI.caCert), 'utf8'), key: readFileSync(join(dir, PKI.caKey), 'utf8'), server: readFileSync(join(dir, PKI.serverCert), 'utf8') },
      before,
    );
  });

  it('device add issues a clientAuth certificate (CN and DNS SAN = id, random serial) that chains to the CA, with a 0600 key', async () => {
    const out = join(root, 'out');
    const r = await addDevice({ dataDir, gatewayId: 'gw-7', deviceId: 'sensor-1', outDir: out, days: 30 });
    assert.equal(r.caCreated, false);
    const ca = cert(join(dir, PKI.caCert));
    const c = cert(r.files.cert);
    assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey), 'chain verifies');
    assert.equal(c.subject, 'CN=sensor-1');
    assert.equal(c.subjectAltName, 'DNS:sensor-1');
    assert.deepEqual(c.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'clientAuth');
    assert.equal(c.serialNumber, r.serial);
    assert.match(r.serial, /^[4-7][0-9A-F]{31}$/);
    assert.ok(Math.abs(Date.parse(c.validTo) - Date.now() - 30 * 86_400_000) < 60_000, 'valid --days days');
    assert.equal(mode(r.files.key), 0o600);
    assert.equal(mode(r.files.bundle), 0o600);
    assert.ok(c.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(r.files.key))), 'the key is the certificate\'s');
    const bundle = readFileSync(r.files.bundle, 'utf8');
    assert.ok(bundle.includes('BEGIN CERTIFICATE') && bundle.includes('BEGIN PRIVATE KEY'));
    assert.equal(readFileSync(r.files.ca, 'utf8'), readFileSync(join(dir, PKI.caCert), 'utf8'));
    assert.deepEqual(readIndex(dir).map((e) => [e.deviceId, e.serial]), [['sensor-1', r.serial]]);
  });

  it('device add refuses a second certificate for a device holding a valid one unless --renew, and a bad id', async () => {
    const out = join(root, 'out');
    await assert.rejects(addDevice({ dataDir, gatewayId: 'gw-7', deviceId: 'sensor-1', outDir: out }), code('FL_ERR_PKI_ALREADY_ENROLLED'));
    await assert.rejects(addDevice({ dataDir, gatewayId: 'gw-7', deviceId: 'bad/id', outDir: out }), code('FL_ERR_INGEST_DEVICE_ID'));
    await assert.rejects(addDevice({ dataDir, gatewayId: 'gw-7', deviceId: 'x', outDir: out, days: 0 }), code('FL_ERR_PKI_BAD_ARGUMENT'));
    await assert.rejects(addDevice({ dataDir, gatewayId: 'gw-7', deviceId: 'x', outDir: out, days: 4000 }), code('FL_ERR_PKI_BAD_ARGUMENT'));
    const renewed = await addDevice({ dataDir, gatewayId: 'gw-7', deviceId: 'sensor-1', outDir: out, renew: true });
    assert.deepEqual(listDevices(dataDir).filter((d) => d.deviceId === 'sensor-1').map((d) => d.state), ['valid', 'valid']);
    assert.equal(listDevices(dataDir).at(-1)?.serial, renewed.serial);
  });

  it('two device commands at once both land in the index (the lock serialises them)', async () => {
    const out = join(root, 'out2');
    await Promise.all(['pump-1', 'pump-2', 'pump-3'].map((deviceId) => addDevice({ dataDir, gatewayId: 'gw-7', deviceId, outDir: out })));
    assert.deepEqual(listDevices(dataDir).map((d) => d.deviceId).filter((d) => d.startsWith('pump')), ['pump-1', 'pump-2', 'pump-3']);
  });

  it('device revoke marks every certificate of the device revoked and writes a CRL, signed by the CA, that lists them', async () => {
    const serials = listDevices(dataDir).filter((d) => d.deviceId === 'sensor-1').map((d) => d.serial);
    const r = await revokeDevice(dataDir, 'sensor-1', 'keyCompromise');
    assert.deepEqual(r.revoked.map((c) => c.serial), serials);
    assert.deepEqual(listDevices(dataDir).filter((d) => d.deviceId === 'sensor-1').map((d) => d.state), ['revoked', 'revoked']);
    const crlPem = readFileSync(r.crlFile, 'utf8');
    assert.match(crlPem, /^-----BEGIN X509 CRL-----/);
    const crl = new x509.X509Crl(crlPem);
    const ca = new x509.X509Certificate(readFileSync(join(dir, PKI.caCert), 'utf8'));
    assert.equal(await crl.verify({ publicKey: ca.publicKey }), true);
    assert.deepEqual(crl.entries.map((e) => e.serialNumber.toUpperCase()).sort(), [...serials].sort());
    assert.equal(crl.entries[0]?.reason, x509.X509CrlReason.keyCompromise);
    // Revoking again changes nothing; an unknown device is an error naming the enrolled ones.
    assert.deepEqual((await revokeDevice(dataDir, 'sensor-1')).revoked, []);
    await assert.rejects(revokeDevice(dataDir, 'nobody'), (err: unknown) => code('FL_ERR_PKI_NOT_ENROLLED')(err) && /pump-1/.test((err as Error).message));
  });

  it('the revocation check sees a revocation written after it was made, by serial and only for this CA', async () => {
    const index = new RevocationIndex(dir);
    const pump = listDevices(dataDir).find((d) => d.deviceId === 'pump-1')!;
    const caFp = cert(join(dir, PKI.caCert)).fingerprint256;
    assert.equal(index.check(pump.serial, caFp), null);
    await revokeDevice(dataDir, 'pump-1');
    assert.equal(index.check(pump.serial, caFp)?.deviceId, 'pump-1');
    // node:crypto may print a serial with a leading zero or in lower case.
    assert.equal(index.check(`00${pump.serial.toLowerCase()}`, caFp)?.deviceId, 'pump-1');
    assert.equal(index.check(pump.serial, 'AA:BB'), null, 'a certificate of another CA with the same serial');
    index.close();
  });

  it('the registry admits an enrolled device with autoRegister off, also one enrolled while it runs, and refuses it once revoked', async () => {
    const cfg = gatewayConfigSchema.parse({ devices: { autoRegister: false } });
    const registry = new DeviceRegistry(join(dataDir, 'devices.db'), cfg.devices);
    try {
      assert.equal(registry.admit('pump-2', 1, 1), true, 'enrolled before the registry opened');
      assert.equal(registry.admit('pump-1', 1, 1), false, 'revoked');
      assert.equal(registry.admit('late-1', 1, 1), false);
      await addDevice({ dataDir, gatewayId: 'gw-7', deviceId: 'late-1', outDir: join(root, 'out3') });
      assert.equal(registry.admit('late-1', 1, 2), true, 'enrolled while running');
      await revokeDevice(dataDir, 'late-1');
      assert.equal(registry.admit('late-1', 1, 3), false, 'revoked while running');
    } finally {
      registry.close();
    }
  });

  it('run as root for a data dir of a service user, hands every new file under pki/ and the registry to that user', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const svc = join(root, 'svc');
    mkdirSync(svc);
    chownSync(svc, 65534, 65534);
    await addDevice({ dataDir: svc, gatewayId: 'gw-svc', deviceId: 'd-1', outDir: join(root, 'out5') });
    const owned = (p: string) => statSync(p).uid === 65534 && statSync(p).gid === 65534;
    for (const f of [PKI.caKey, PKI.caCert, PKI.serverKey, PKI.serverCert, PKI.crl, PKI.index, PKI.issued]) {
      assert.ok(owned(join(pkiDir(svc), f)), `${f} belongs to the service user`);
    }
    assert.ok(owned(pkiDir(svc)));
    assert.ok(owned(join(svc, 'devices.db')));
  });

  it('refuses to replace half a CA (the key gone) rather than orphan the enrolled devices; with none enrolled it starts over', async () => {
    const other = join(root, 'half');
    await ensureGatewayPki(other, 'gw-8');
    unlinkSync(join(pkiDir(other), PKI.caKey));
    const fresh = await ensureGatewayPki(other, 'gw-8');
    assert.equal(fresh.created, true, 'nothing was issued yet: a new CA');
    await addDevice({ dataDir: other, gatewayId: 'gw-8', deviceId: 'd-1', outDir: join(root, 'out4') });
    unlinkSync(join(pkiDir(other), PKI.caKey));
    await assert.rejects(ensureGatewayPki(other, 'gw-8'), code('FL_ERR_PKI_DAMAGED'));
    await assert.rejects(revokeDevice(join(root, 'none'), 'x'), code('FL_ERR_PKI_NO_CA'));
  });
});
