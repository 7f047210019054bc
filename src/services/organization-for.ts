/**
 * Where a new object goes (ownership.ts's `organizationFor`), for an admin too: an admin may put
 * it into any organization, which must then exist (a member's organizations exist by definition,
 * so only an admin's choice costs a query). And the organization a change to its members locks.
 */
import type { Db, Tx } from '../db/knex';
import type { OrganizationRow } from '../db/tables';
import { ConflictError, NotFoundError } from '../errors';
import { lockOrganization, organizationExists } from '../repositories/organizations.repository';
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

/** The organization, locked until the transaction ends (404 when it is gone). */
export async function lockExistingOrganization(tx: Tx, id: string): Promise<OrganizationRow> {
  const org = await lockOrganization(tx, id);
  if (!org) throw new NotFoundError('Organization not found');
  return org;
}

/** A team's organization, locked, that may take members (a personal one may not: 409). */
export async function lockTeamOrganization(tx: Tx, id: string): Promise<OrganizationRow> {
  const org = await lockExistingOrganization(tx, id);
  if (org.personal_account_id !== null)
    throw new ConflictError('A personal organization has no other members: create an organization to share', {
      reason: 'personal organization',
    });
  return org;
}
