// What the MQTT TLS listener asks at each connection: was this certificate revoked? The answer
// comes from the issue index the `device` commands write (store.ts), re-read whenever the file
// was replaced (a new inode: writes are atomic renames), so a revocation applies from the next
// connection on without a restart. A directory watch re-reads it as soon as it changes too, so
// connections of a device revoked while it is connected can be closed (onRevoked).
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { PKI, normalizeSerial } from './names.js';
import { readIndex, type CertRecord } from './store.js';

export class RevocationIndex {
  private revoked = new Map<string, CertRecord>();
  private indexStamp = '';
  private caStamp = '';
  private caFingerprint: string | null = null;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param dir <dataDir>/pki
   * @param onRevoked told the serials revoked since the last read (not those revoked before start)
   * @param onError told when the index cannot be read; the last good copy stays in use
   */
  constructor(
    private readonly dir: string,
    private readonly onRevoked: (serials: Set<string>) => void = () => undefined,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.refresh(false);
  }

  /** Watches pki/ for a new index; safe to skip where inotify is missing (each connection still checks). */
  watch(): void {
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (name !== PKI.index) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.refresh(true), 50);
        this.timer.unref();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // no pki/ yet, or no inotify: the per-connection check is enough
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }

  /**
   * The revocation record of a certificate this CA issued, or null. `issuerFingerprint256` (the
   * issuer's fingerprint from the verified chain) keeps a serial of another CA from matching.
   */
  check(serialHex: string, issuerFingerprint256?: string): CertRecord | null {
    this.refresh(true);
    if (issuerFingerprint256 && this.caFingerprint && issuerFingerprint256 !== this.caFingerprint) return null;
    return this.revoked.get(normalizeSerial(serialHex)) ?? null;
  }

  private refresh(notify: boolean): void {
    const caStamp = stamp(join(this.dir, PKI.caCert));
    if (caStamp !== this.caStamp) {
      this.caStamp = caStamp;
      try {
        this.caFingerprint = caStamp ? new X509Certificate(readFileSync(join(this.dir, PKI.caCert))).fingerprint256 : null;
      } catch {
        this.caFingerprint = null;
      }
    }
    const indexStamp = stamp(join(this.dir, PKI.index));
    if (indexStamp === this.indexStamp) return;
    let records: CertRecord[];
    try {
      records = readIndex(this.dir);
    } catch (err) {
      this.onError(err as Error);
      return;
    }
    this.indexStamp = indexStamp;
    const next = new Map(records.filter((r) => r.revokedAt).map((r) => [normalizeSerial(r.serial), r]));
    const fresh = new Set([...next.keys()].filter((s) => !this.revoked.has(s)));
    this.revoked = next;
    if (notify && fresh.size > 0) this.onRevoked(fresh);
  }
}

/** Identifies one version of a file: an atomic rename always brings a new inode. '' when missing. */
function stamp(file: string): string {
  const s = statSync(file, { throwIfNoEntry: false, bigint: true });
  return s ? `${s.ino}:${s.mtimeNs}:${s.size}` : '';
}
