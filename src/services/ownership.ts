/**
 * The ownership rule, in the one place every service uses: every object belongs to an account; a
 * user sees only their own, an admin sees all. Another account's object is "not found" (404), so its
 * existence is not revealed.
 */
import { NotFoundError } from '../errors';
import type { Actor } from './actor';

export function canSee(actor: Actor, ownerId: string): boolean {
  return actor.role === 'admin' || actor.accountId === ownerId;
}

/** Returns the row when the actor may see it, else throws NotFoundError naming `what`. */
export function visibleOrNotFound<T extends { account_id: string }>(actor: Actor, row: T | undefined, what: string): T {
  if (!row || !canSee(actor, row.account_id)) throw new NotFoundError(`${what} not found`);
  return row;
}

/** The account id a list must be limited to, or undefined when the actor sees all. */
export function ownerFilter(actor: Actor): string | undefined {
  return actor.role === 'admin' ? undefined : actor.accountId;
}
