import { ulid } from 'ulid';

/** Prefixed ULIDs: sortable by creation time, so cursors are simple. */
export type IdPrefix = 'acct' | 'key' | 'flow' | 'exec' | 'step' | 'lsn';

export function newId(prefix: IdPrefix): string {
  return `${prefix}-${ulid()}`;
}
