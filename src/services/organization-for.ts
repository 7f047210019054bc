/**
 * Where a new object goes (ownership.ts's `organizationFor`), for an admin too: an admin may put
 * it into any organization, which must then exist (a member's organizations exist by definition,
 * so only an admin's choice costs a query).
 */
import type { Db } from '../db/knex';
import { NotFoundError } from '../errors';
import { organizationExists } from '../repositories/organizations.repository';
import type { Actor } from './actor';
import { organizationFor, type OrganizationAction } from './ownership';

export async function existingOrganizationFor(
  db: Db,
  actor: Actor,
  requested: string | undefined,
  what: string,
  action: OrganizationAction = 'edit',
): Promise<string> {
  const id = organizationFor(actor, requested, what, action);
  if (actor.role === 'admin' && requested !== undefined && !(await organizationExists(db, id)))
    throw new NotFoundError('Organization not found', { field: 'organization_id' });
  return id;
}
