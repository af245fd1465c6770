// Which settings are secrets, and how they travel through the local API: GET /config shows each as
// REDACTED, and a PATCH that sends REDACTED back (the page returns what it was given) keeps the
// stored value instead of writing the marker into the file.
import { isTree, type Tree } from './merge-patch.js';

export const REDACTED = '********';

type Path = readonly (string | number)[];

// librdkafka properties holding a password, a client secret, an inline private key or an OAuth
// config with credentials. `ssl.key.location` is a file path and stays visible.
const RDKAFKA_SECRET = /password|secret|(^|\.)key(\.pem)?$|^sasl\.oauthbearer\.config$/i;

export function isSecretPath(path: Path): boolean {
  const [a, b, c, d] = path;
  if (a === 'api' && b === 'adminToken' && path.length === 2) return true;
  if (a === 'mqtt' && b === 'credentials' && typeof c === 'number' && d === 'password' && path.length === 4) return true;
  if (a === 'kafka' && b === 'rdkafka' && typeof c === 'string' && path.length === 3) return RDKAFKA_SECRET.test(c);
  return false;
}

/** A deep copy with every secret that is set replaced by REDACTED. */
export function redact<T>(value: T): T {
  return walk(value, []) as T;
}

function walk(value: unknown, path: (string | number)[]): unknown {
  if (isSecretPath(path) && value !== undefined && value !== null && value !== '') return REDACTED;
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
  if (isTree(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
  return value;
}

export interface SecretProblem {
  path: string;
  message: string;
}

/**
 * Puts the stored value back wherever `next` holds REDACTED at a secret's place. An MQTT login's
 * password is the stored one of the login with the same username (the page may reorder or remove
 * entries; a renamed login needs its password sent again). A marker with no stored value behind it
 * is a problem, not a password.
 */
export function restoreSecrets(next: Tree, stored: Tree): { value: Tree; problems: SecretProblem[] } {
  const problems: SecretProblem[] = [];
  const fix = (value: unknown, path: (string | number)[]): unknown => {
    if (value === REDACTED && isSecretPath(path)) {
      const kept = storedAt(stored, next, path);
      if (typeof kept === 'string' && kept !== '') return kept;
      problems.push({ path: path.join('.'), message: `${path.join('.')}: ${REDACTED} stands for the stored secret, but none is stored here (send the value itself)` });
      return value;
    }
    if (Array.isArray(value)) return value.map((v, i) => fix(v, [...path, i]));
    if (isTree(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fix(v, [...path, k])]));
    return value;
  };
  return { value: fix(next, []) as Tree, problems };
}

function storedAt(stored: Tree, next: Tree, path: (string | number)[]): unknown {
  if (path[0] === 'mqtt' && path[1] === 'credentials' && typeof path[2] === 'number') {
    const username = at(next, [...path.slice(0, 3), 'username']);
    const list = at(stored, ['mqtt', 'credentials']);
    if (Array.isArray(list) && typeof username === 'string') {
      const same = list.find((c) => isTree(c) && c.username === username);
      if (same) return (same as Tree).password;
    }
    return undefined;
  }
  return at(stored, path);
}

function at(tree: unknown, path: readonly (string | number)[]): unknown {
  let node = tree;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === 'number') node = node[key];
    else if (isTree(node) && typeof key === 'string') node = node[key];
    else return undefined;
  }
  return node;
}
