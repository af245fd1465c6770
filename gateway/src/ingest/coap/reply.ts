// What the adapter answers, derived from the pipeline's outcome and the error catalogue's status.
import { catalogue, type ErrorCode } from '../../errors.js';
import type { Outcome, Rejection } from '../../pipeline/types.js';
import type { CoapConfig } from './config.js';
import { Code, Opt, encodeUint, type CoapOption } from './message.js';

/** A response before it has a type, Message ID or token. */
export interface Reply {
  code: number;
  options: CoapOption[];
  payload: Buffer;
}

/** §5.9.1.4 2.04 Changed: the reading is committed. No payload. */
export const CHANGED: Reply = Object.freeze({ code: Code.CHANGED, options: [], payload: Buffer.alloc(0) });

/** Longest diagnostic payload, so every reply fits in one datagram without Block2. */
const MAX_DIAGNOSTIC_BYTES = 240;

/**
 * A refusal with a diagnostic payload (§5.5.2): UTF-8 text for a human, no Content-Format,
 * "FL_ERR_…: message: detail".
 */
export function diagnostic(c: number, errorCode: ErrorCode, detail: string, size1?: number, maxAgeS?: number): Reply {
  const options: CoapOption[] = [];
  // §5.10.5 Max-Age on an error response: when the same request may succeed again.
  if (maxAgeS !== undefined) options.push({ number: Opt.MAX_AGE, value: encodeUint(maxAgeS) });
  // §5.10.9 Size1 on 4.13: the largest request body the server accepts.
  if (size1 !== undefined) options.push({ number: Opt.SIZE1, value: encodeUint(size1) });
  return { code: c, options, payload: utf8Prefix(`${errorCode}: ${statusOf(errorCode).message}: ${detail}`, MAX_DIAGNOSTIC_BYTES) };
}

/** The answer to a message the pipeline has finished with. */
export function outcomeReply(outcome: Outcome, cfg: Pick<CoapConfig, 'maxPayloadBytes' | 'rateLimitedMaxAgeS'>): Reply {
  if (outcome.ok) return CHANGED;
  const r = outcome.rejection;
  const { status } = statusOf(r.code);
  switch (status) {
    case 429: // RFC 8516 §3: 4.29 Too Many Requests, Max-Age = seconds until a retry may succeed.
      return diagnostic(Code.TOO_MANY_REQUESTS, r.code, r.detail, undefined, retryAfterS(r) ?? cfg.rateLimitedMaxAgeS);
    case 413: // §5.9.2.9, with Size1 (§5.10.9).
      return diagnostic(Code.REQUEST_ENTITY_TOO_LARGE, r.code, r.detail, cfg.maxPayloadBytes);
    case 415: // §5.9.2.10
      return diagnostic(Code.UNSUPPORTED_CONTENT_FORMAT, r.code, r.detail);
    case 401: // §5.9.2.2, where the catalogue says the device is not authenticated
      return diagnostic(Code.UNAUTHORIZED, r.code, r.detail);
    case 403: // §5.9.2.4, e.g. a device not registered with this gateway
      return diagnostic(Code.FORBIDDEN, r.code, r.detail);
    default: // §5.9.2.1 4.00 Bad Request for every other refusal of the input
      return diagnostic(Code.BAD_REQUEST, r.code, r.detail);
  }
}

/** §5.9.3.4 5.03 Service Unavailable with Max-Age: nothing was stored, try again later. */
export function unavailable(detail: string, maxAgeS: number): Reply {
  return diagnostic(Code.SERVICE_UNAVAILABLE, 'FL_ERR_INGEST_UNAVAILABLE', detail, undefined, maxAgeS);
}

/** The rate-limit step says when a token is there again (Rejection.retryAfterMs); CoAP counts in seconds. */
function retryAfterS(r: Rejection): number | undefined {
  const ms = (r as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? Math.min(0xffffffff, Math.ceil(ms / 1000)) : undefined;
}

/** A code the catalogue does not know (another part's, not yet merged) is a plain 400. */
function statusOf(c: ErrorCode): { status: number; message: string } {
  return (catalogue as Record<string, { status: number; message: string } | undefined>)[c] ?? { status: 400, message: 'refused' };
}

function utf8Prefix(text: string, maxBytes: number): Buffer {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return buf;
  let end = maxBytes;
  // Do not cut a multi-byte character in half: back up to the start of one (bytes 10xxxxxx continue).
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}
