// Request merging: the tags of one poll become as few read requests as the protocol allows. Tags of
// the same function whose items are adjacent (or within `maxGap` unread items) share one request, up
// to the function's quantity limit [MAP §6.1-6.4] or the device's own lower limit.
import { itemCount } from './conversions.js';
import type { TagConfig } from './config.js';
import { isBitFunction, maxQuantity, type ReadFunction } from './spec.js';

export interface PlannedTag {
  tag: TagConfig;
  /** Position of the tag's first item in the response, in registers (or bits). */
  item: number;
}

export interface ReadRequest {
  fn: ReadFunction;
  address: number;
  /** Registers (functions 3/4) or bits (functions 1/2) asked for. */
  count: number;
  tags: PlannedTag[];
}

export interface MergeLimits {
  maxGap: number;
  maxRegistersPerRead: number;
  maxBitsPerRead: number;
}

/**
 * Requests for `tags`, ordered by function then address. Tags must not overlap (config.ts refuses
 * that), so each item is read once.
 */
export function planRequests(tags: readonly TagConfig[], limits: MergeLimits): ReadRequest[] {
  const sorted = [...tags].sort((a, b) => a.function - b.function || a.address - b.address);
  const requests: ReadRequest[] = [];
  let current: ReadRequest | undefined;
  for (const tag of sorted) {
    const fn = tag.function;
    const size = itemCount(tag.type);
    const limit = Math.min(maxQuantity(fn), isBitFunction(fn) ? limits.maxBitsPerRead : limits.maxRegistersPerRead);
    if (current && current.fn === fn) {
      const end = current.address + current.count; // first item after the request
      const gap = tag.address - end;
      const span = tag.address + size - current.address;
      if (gap >= 0 && gap <= limits.maxGap && span <= limit) {
        current.tags.push({ tag, item: tag.address - current.address });
        current.count = span;
        continue;
      }
    }
    current = { fn, address: tag.address, count: size, tags: [{ tag, item: 0 }] };
    requests.push(current);
  }
  return requests;
}
