// Paging cursors: an opaque base64url token around a versioned JSON array of the last row's key.
// Each pager checks the fields' types itself; this checks only the wrapping.
import { StoreError } from '../errors.js';

export function encodeCursor(version: number, fields: readonly unknown[]): string {
  return Buffer.from(JSON.stringify([version, ...fields]), 'utf8').toString('base64url');
}

/** The fields of a cursor made by encodeCursor(version, …) with `count` fields; FL_ERR_API_BAD_CURSOR otherwise. */
export function decodeCursor(text: string, version: number, count: number): unknown[] {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw badCursor('not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badCursor('undecodable');
  }
  if (!Array.isArray(parsed) || parsed.length !== count + 1) throw badCursor('wrong shape');
  if (parsed[0] !== version) throw badCursor('unknown version');
  return parsed.slice(1) as unknown[];
}

export function badCursor(why: string): StoreError {
  return new StoreError('FL_ERR_API_BAD_CURSOR', why);
}
