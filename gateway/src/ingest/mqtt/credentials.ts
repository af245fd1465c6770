// Username/password logins for the plain and WebSocket listeners. Passwords may be stored as
// scrypt:<salt base64>:<hash base64> so the config file does not hold them in clear.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

export interface Credential {
  username: string;
  password: string;
  deviceId?: string | undefined;
}

export function hashPassword(password: string, salt = randomBytes(16)): string {
  return `scrypt:${salt.toString('base64')}:${scryptSync(password, salt, 32).toString('base64')}`;
}

function matches(stored: string, given: Buffer): boolean {
  if (stored.startsWith('scrypt:')) {
    const [, salt, hash] = stored.split(':');
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, 'base64');
    const got = scryptSync(given, Buffer.from(salt, 'base64'), want.length);
    return timingSafeEqual(got, want);
  }
  const want = Buffer.from(stored);
  return want.length === given.length && timingSafeEqual(want, given);
}

export class CredentialStore {
  private readonly byUser = new Map<string, Credential>();
  constructor(creds: Credential[]) {
    for (const c of creds) this.byUser.set(c.username, c);
  }

  /** The device id the login speaks for, or null when the login is wrong. */
  check(username: string, password: Buffer | undefined): string | null {
    const c = this.byUser.get(username);
    if (!c || !password) return null;
    return matches(c.password, password) ? (c.deviceId ?? c.username) : null;
  }
}
