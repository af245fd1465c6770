// What a well-formed request asks for: the telemetry resource `POST /telemetry/{deviceId}`, or an
// answer the adapter gives without the pipeline. Pure, so every refusal is unit-tested.
import type { ErrorCode } from '../../errors.js';
import type { Rejection } from '../../pipeline/types.js';
import { DEVICE_ID_MAX_LENGTH, isDeviceId } from '../device-id.js';
import type { CoapConfig } from './config.js';
import { Code, ContentFormat, Opt, decodeUint, type CoapMessage } from './message.js';
import { diagnostic, type Reply } from './reply.js';

export type Route =
  | {
      kind: 'telemetry';
      /** As sent, truncated to 128 characters when it is not a valid id. */
      deviceId: string;
      format: 'json' | 'cbor';
      /** The path as a string, kept with a quarantine record. */
      path: string;
      /** Set when the request is already known to be unacceptable; the pipeline quarantines it. */
      preRejection?: Rejection;
    }
  | { kind: 'reply'; reply: Reply; reason: string };

/** Options this resource understands; `min`/`max` is the value length range (§5.10 table 4). */
const KNOWN: ReadonlyMap<number, { min: number; max: number; repeatable: boolean }> = new Map([
  [Opt.URI_HOST, { min: 1, max: 255, repeatable: false }],
  [Opt.ETAG, { min: 1, max: 8, repeatable: true }],
  [Opt.OBSERVE, { min: 0, max: 3, repeatable: false }],
  [Opt.URI_PORT, { min: 0, max: 2, repeatable: false }],
  [Opt.URI_PATH, { min: 0, max: 255, repeatable: true }],
  [Opt.CONTENT_FORMAT, { min: 0, max: 2, repeatable: false }],
  [Opt.URI_QUERY, { min: 0, max: 255, repeatable: true }],
  [Opt.ACCEPT, { min: 0, max: 2, repeatable: false }],
  [Opt.BLOCK2, { min: 0, max: 3, repeatable: false }],
  [Opt.BLOCK1, { min: 0, max: 3, repeatable: false }],
  [Opt.SIZE2, { min: 0, max: 4, repeatable: false }],
  [Opt.SIZE1, { min: 0, max: 4, repeatable: false }],
]);

export function routeRequest(m: CoapMessage, cfg: Pick<CoapConfig, 'maxPayloadBytes'>): Route {
  // §5.4.5: a non-repeatable option after its first occurrence, and §5.4.3: a value of the wrong
  // length, are treated like unrecognized options. Those of them that are elective are ignored.
  const usable: CoapMessage['options'] = [];
  const seen = new Set<number>();
  for (const o of m.options) {
    const spec = KNOWN.get(o.number);
    const recognized = spec !== undefined && o.value.length >= spec.min && o.value.length <= spec.max && (spec.repeatable || !seen.has(o.number));
    seen.add(o.number);
    if (recognized) {
      usable.push(o);
      continue;
    }
    if (o.number === Opt.PROXY_URI || o.number === Opt.PROXY_SCHEME) {
      // §5.7.2: a server that is not a forward-proxy answers 5.05.
      return refuse(Code.PROXYING_NOT_SUPPORTED, 'FL_ERR_COAP_PROXYING', `option ${o.number} asks for a proxy`);
    }
    // §5.4.1: an unrecognized critical (odd-numbered, §5.4.6) option in a request gets 4.02.
    if (o.number & 1) return refuse(Code.BAD_OPTION, 'FL_ERR_COAP_BAD_OPTION', `critical option ${o.number} (${o.value.length} bytes) is not supported`);
  }
  const segments = usable.filter((o) => o.number === Opt.URI_PATH).map((o) => o.value.toString('utf8'));
  const path = '/' + segments.join('/');
  // §5.9.2.5 4.04 for any other resource, §5.9.2.6 / §5.8 4.05 for any other method.
  if (segments.length !== 2 || segments[0] !== 'telemetry') return refuse(Code.NOT_FOUND, 'FL_ERR_COAP_NOT_FOUND', JSON.stringify(path.slice(0, 80)));
  if (m.code !== Code.POST) return refuse(Code.METHOD_NOT_ALLOWED, 'FL_ERR_COAP_METHOD', `${methodName(m.code)} ${path.slice(0, 80)}`);

  const rawId = segments[1] ?? '';
  const idOk = isDeviceId(rawId);
  const deviceId = idOk ? rawId : rawId.slice(0, DEVICE_ID_MAX_LENGTH) || '(empty)';
  const cf = usable.find((o) => o.number === Opt.CONTENT_FORMAT);
  const cfNumber = cf ? decodeUint(cf.value) : ContentFormat.JSON; // no Content-Format: JSON
  const format = cfNumber === ContentFormat.CBOR ? 'cbor' : 'json';
  const base = { kind: 'telemetry' as const, deviceId, format, path: path.slice(0, 512) } as const;

  const block1 = usable.find((o) => o.number === Opt.BLOCK1);
  if (block1) {
    // RFC 7959 §2.2: NUM, M and SZX packed in a uint.
    const v = decodeUint(block1.value);
    const num = v >> 4;
    const more = (v >> 3) & 1;
    const szx = v & 7;
    // RFC 7959 §2.2: SZX 7 is reserved and gets 4.00.
    if (szx === 7) return refuse(Code.BAD_REQUEST, 'FL_ERR_COAP_BAD_OPTION', 'Block1 with the reserved block size SZX 7');
    // A later block of a transfer whose first block was already refused (and quarantined).
    if (num > 0) return refuse(Code.REQUEST_ENTITY_TOO_LARGE, 'FL_ERR_INGEST_TOO_LARGE', `Block1 block ${num}: block-wise transfers are not accepted`, cfg.maxPayloadBytes);
    if (more) {
      // RFC 7959 §2.9.3: 4.13 (with Size1) tells the client the whole body is too large.
      return { ...base, preRejection: { code: 'FL_ERR_INGEST_TOO_LARGE', detail: `block-wise transfer (Block1) not accepted; at most ${cfg.maxPayloadBytes} bytes in one request` } };
    }
  }
  if (!idOk) return { ...base, preRejection: { code: 'FL_ERR_INGEST_DEVICE_ID', detail: JSON.stringify(rawId.slice(0, 80)) } };
  if (m.payload.length > cfg.maxPayloadBytes) {
    return { ...base, preRejection: { code: 'FL_ERR_INGEST_TOO_LARGE', detail: `${m.payload.length} > ${cfg.maxPayloadBytes} bytes` } };
  }
  if (cfNumber !== ContentFormat.JSON && cfNumber !== ContentFormat.CBOR) {
    return { ...base, preRejection: { code: 'FL_ERR_COAP_CONTENT_FORMAT', detail: `got ${cfNumber}` } };
  }
  return base;
}

function refuse(c: number, errorCode: ErrorCode, detail: string, size1?: number): Route {
  return { kind: 'reply', reply: diagnostic(c, errorCode, detail, size1), reason: errorCode };
}

const METHODS = ['', 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'];

function methodName(c: number): string {
  return METHODS[c] ?? `method 0.${String(c).padStart(2, '0')}`;
}
