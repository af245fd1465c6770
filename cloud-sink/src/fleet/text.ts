// PostgreSQL text and jsonb cannot hold U+0000, and a gateway passes strings from devices through
// (an adapter's detail, a refused device id). Storing the rest of the record matters more than that
// one character, so it becomes U+FFFD, the replacement character, instead of failing the write.
export function pgText(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

/** pgText, with '' (proto3's "not set") as null. */
export function pgTextOrNull(s: string | null | undefined): string | null {
  return s ? pgText(s) : null;
}

/** Epoch ms that a timestamptz holds and a JS Date can show; anything else is not a usable time. */
export function isUsableTime(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 && ms <= 8.64e15;
}
