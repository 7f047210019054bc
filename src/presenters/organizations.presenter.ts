/** Organizations and their members as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { OrganizationMemberRow, OrganizationRole, OrganizationRow } from '../db/tables';
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
