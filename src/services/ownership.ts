/**
 * The ownership rule, in the one place every service uses. Every object belongs to an
 * organization (`organization_id`; `account_id` is who created it) and every account has a
 * personal one. An organization's members see its objects; what else they may do follows from
 * their role there (below). An admin sees and may do all. What the caller may not see is "not
 * found" (404), so its existence is not revealed; what they may see but not do is 403.
 *
 * The caller's memberships travel with the Actor (loaded once at authentication and cached, see
 * services/memberships.ts), so none of these functions reads the database.
 */
import type { OrganizationRole } from '../db/tables';
import { ForbiddenError, NotFoundError } from '../errors';
import type { Actor } from './actor';

export type { OrganizationRole };

/** What a caller does with an organization's objects. */
export type OrganizationAction = 'read' | 'run' | 'edit' | 'manage';

/** Roles from least to most: each may do what the ones before it may. */
export const ORGANIZATION_ROLES: readonly OrganizationRole[] = ['viewer', 'runner', 'editor', 'owner'];

/**
 * The least role for each action. `read`: see objects, executions, logs, results. `run`: start
 * executions, cancel them, approve/reject them, answer their waits and set their values. `edit`:
 * create, change and delete flows, flow requests, schedules, webhooks, listeners and shares.
 * `manage`: the organization itself and its members.
 */
const LEAST_ROLE: Record<OrganizationAction, OrganizationRole> = {
  read: 'viewer',
  run: 'runner',
  edit: 'editor',
  manage: 'owner',
};

/** A row that belongs to an organization; a row of a table without the column counts as its creator's personal one. */
export interface Owned {
  account_id: string;
  organization_id?: string | null;
}

export function rank(role: OrganizationRole): number {
  return ORGANIZATION_ROLES.indexOf(role);
}

export function roleAllows(role: OrganizationRole | undefined, action: OrganizationAction): boolean {
  return role !== undefined && rank(role) >= rank(LEAST_ROLE[action]);
}

/** The id of an account's personal organization (made with the account: `acct-X` → `org-X`). */
export function personalOrganizationId(accountId: string): string {
  return `org-${accountId.replace(/^acct-/, '')}`;
}

export function organizationOf(row: Owned): string {
  return row.organization_id ?? personalOrganizationId(row.account_id);
}

/** The caller's role in an organization: an admin is an owner of every one; undefined for a non-member. */
export function roleIn(actor: Actor, organizationId: string): OrganizationRole | undefined {
  if (actor.role === 'admin') return 'owner';
  return actor.memberships.get(organizationId);
}

export function canSeeOrganization(actor: Actor, organizationId: string): boolean {
  return roleIn(actor, organizationId) !== undefined;
}

export function canSee(actor: Actor, row: Owned): boolean {
  return canSeeOrganization(actor, organizationOf(row));
}

export function may(actor: Actor, row: Owned, action: OrganizationAction): boolean {
  return roleAllows(roleIn(actor, organizationOf(row)), action);
}

/** Returns the row when the actor may see it, else throws NotFoundError naming `what`. */
export function visibleOrNotFound<T extends Owned>(actor: Actor, row: T | undefined, what: string): T {
  if (!row || !canSee(actor, row)) throw new NotFoundError(`${what} not found`);
  return row;
}

function forbidden(actor: Actor, organizationId: string, action: OrganizationAction, what: string): ForbiddenError {
  const role = roleIn(actor, organizationId);
  return new ForbiddenError(
    `Your role in this organization (${role}) may not ${action === 'manage' ? 'manage' : action} ${what}; it takes ${LEAST_ROLE[action]} or higher`,
    { organization_id: organizationId, role: role ?? null, required_role: LEAST_ROLE[action] },
  );
}

/** Returns the row when the actor may do `action` with it: 404 when they may not see it, 403 when their role is too low. */
export function permittedOrForbidden<T extends Owned>(
  actor: Actor,
  row: T | undefined,
  action: OrganizationAction,
  what: string,
): T {
  const visible = visibleOrNotFound(actor, row, what);
  if (!may(actor, visible, action))
    throw forbidden(actor, organizationOf(visible), action, `this ${what.toLowerCase()}`);
  return visible;
}

/**
 * The organization a new object goes into: the one asked for (404 when the caller is no member,
 * 403 when their role may not `action` there), else the caller's personal organization.
 */
export function organizationFor(
  actor: Actor,
  requested: string | undefined,
  what: string,
  action: OrganizationAction = 'edit',
): string {
  const id = requested ?? personalOrganizationId(actor.accountId);
  if (!canSeeOrganization(actor, id)) throw new NotFoundError('Organization not found', { field: 'organization_id' });
  if (!roleAllows(roleIn(actor, id), action)) throw forbidden(actor, id, action, what);
  return id;
}

/**
 * What a list is limited to: the organizations the caller belongs to, or the one `organization`
 * names (404 when the caller is no member). An admin without `organization` sees all (no limit).
 */
export function ownerFilter(actor: Actor, organization?: string): { organizationIds?: readonly string[] } {
  if (organization !== undefined) {
    if (!canSeeOrganization(actor, organization))
      throw new NotFoundError('Organization not found', { field: 'organization' });
    return { organizationIds: [organization] };
  }
  if (actor.role === 'admin') return {};
  return { organizationIds: [...actor.memberships.keys()] };
}

/**
 * The organizations where the caller may do `action` (for a write that reaches objects of several
 * organizations at once, e.g. a posted event resuming every execution that waits for it). An admin
 * may everywhere (no limit).
 */
export function organizationsWhere(actor: Actor, action: OrganizationAction): { organizationIds?: readonly string[] } {
  if (actor.role === 'admin') return {};
  return {
    organizationIds: [...actor.memberships].filter(([, role]) => roleAllows(role, action)).map(([id]) => id),
  };
}
