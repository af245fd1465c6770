// @peculiar/x509 on node:crypto's WebCrypto. Import x509 from here, never from the package: the
// package resolves its algorithms through tsyringe, which refuses to load without the Reflect
// metadata API, and reflect-metadata (the polyfill tsyringe documents) must be evaluated first (ESM
// evaluates imports in order).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** ECDSA P-256 with SHA-256: small keys and signatures, supported by every TLS stack a sensor runs. */
export const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
