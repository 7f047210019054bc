/** Organizations and their members as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { OrganizationInvitationRow, OrganizationMemberRow, OrganizationRole, OrganizationRow } from '../db/tables';
import { iso } from './dates';

type Schemas = components['schemas'];

export function toOrganization(r: OrganizationRow & { role: OrganizationRole | null }): Schemas['Organization'] {
  return {
    id: r.id,
    name: r.name,
    personal: r.personal_account_id !== null,
    role: r.role,
    created_by: r.created_by,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

export function toOrganizationMember(
  r: OrganizationMemberRow & { email: string; name: string },
): Schemas['OrganizationMember'] {
  return {
    organization_id: r.organization_id,
    account_id: r.account_id,
    email: r.email,
    name: r.name,
    role: r.role,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

/** A pending invitation past its time shows as `expired` (the row says so only once a new one replaces it). */
export function toOrganizationInvitation(
  r: OrganizationInvitationRow & { organization_name: string; invited_by_email: string | null },
): Schemas['OrganizationInvitation'] {
  return {
    id: r.id,
    organization_id: r.organization_id,
    organization_name: r.organization_name,
    email: r.email,
    role: r.role,
    status: r.status === 'pending' && r.expires_at.getTime() <= Date.now() ? 'expired' : r.status,
    invited_by: r.invited_by,
    invited_by_email: r.invited_by_email,
    expires_at: iso(r.expires_at),
    created_at: iso(r.created_at),
    responded_at: r.responded_at === null ? null : iso(r.responded_at),
  };
}
