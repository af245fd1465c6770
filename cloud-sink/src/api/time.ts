import { CloudError } from '../errors.js';

/** `from`/`to` take RFC 3339 or epoch milliseconds (DESIGN.md "Cloud API"). */
export function parseTime(name: string, raw: string | undefined, fallback: Date): Date {
  if (raw === undefined || raw === '') return fallback;
  const d = /^-?\d+$/.test(raw) ? new Date(Number(raw)) : /^\d{4}-\d{2}-\d{2}T/.test(raw) ? new Date(raw) : new Date(NaN);
  if (Number.isNaN(d.getTime())) {
    throw new CloudError('FL_ERR_API_BAD_PARAM', `${name}=${JSON.stringify(raw)} is neither RFC 3339 nor epoch milliseconds`);
  }
  return d;
}

export function parseLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new CloudError('FL_ERR_API_BAD_PARAM', `limit=${JSON.stringify(raw)} must be an integer from 1 to ${max}`);
  }
  return n;
}
