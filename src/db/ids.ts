import { monotonicFactory } from 'ulid';

/** Prefixed ULIDs: sortable by creation time, so cursors are simple. */
export type IdPrefix = 'acct' | 'key' | 'flow' | 'exec' | 'step' | 'lsn';

// Monotonic: ids made in the same millisecond still sort in the order they were made, and each
// costs an increment instead of fresh randomness.
const nextUlid = monotonicFactory();

export function newId(prefix: IdPrefix): string {
  return `${prefix}-${nextUlid()}`;
}
