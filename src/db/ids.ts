import crypto from 'node:crypto';
import { monotonicFactory } from 'ulid';

/** Prefixed ULIDs: sortable by creation time, so cursors are simple. */
export type IdPrefix =
  'acct' | 'key' | 'flow' | 'exec' | 'step' | 'lsn' | 'sch' | 'hook' | 'freq' | 'file' | 'conn' | 'org' | 'inv';

// ulid's own source of randomness asks the CSPRNG for one byte per character; the same bytes
// are drawn from a pool refilled a few kilobytes at a time.
const pool = Buffer.alloc(4096);
let next = pool.length;
function randomFraction(): number {
  if (next === pool.length) {
    crypto.randomFillSync(pool);
    next = 0;
  }
  return pool[next++] / 256;
}

// Monotonic: ids made in the same millisecond still sort in the order they were made, and each
// costs an increment instead of fresh randomness.
const nextUlid = monotonicFactory(randomFraction);

export function newId(prefix: IdPrefix): string {
  return `${prefix}-${nextUlid()}`;
}
