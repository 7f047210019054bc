/** Accounts, API keys and secrets as the spec shows them; one function per schema, fields picked explicitly. */
import type { components } from '../../generated/types/api';
import type { AccountRow, ApiKeyRow, SecretRow } from '../db/tables';
import { iso, isoOrNull } from './dates';

type Schemas = components['schemas'];

export function toAccount(r: AccountRow): Schemas['Account'] {
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    role: r.role,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

/** The caller's account; `permissions` are what the caller's effective role permits. */
export function toCurrentUser(
  r: AccountRow,
  actor: { role: AccountRow['role']; via: Schemas['CurrentUser']['authenticated_via'] },
  permissions: Schemas['Permission'][],
): Schemas['CurrentUser'] {
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    role: actor.role,
    external_id: r.external_id,
    external_issuer: r.external_issuer,
    authenticated_via: actor.via,
    permissions,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

export function toApiKey(r: ApiKeyRow): Schemas['ApiKey'] {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    organization_id: r.organization_id,
    role: r.organization_role,
    created_at: iso(r.created_at),
    last_used_at: isoOrNull(r.last_used_at),
    expires_at: isoOrNull(r.expires_at),
  };
}

export function toSecret(r: SecretRow): Schemas['Secret'] {
  return { key: r.key, created_at: iso(r.created_at), updated_at: iso(r.updated_at) };
}

export function toOrganizationSecret(r: SecretRow): Schemas['OrganizationSecret'] {
  return { organization_id: r.organization_id, ...toSecret(r) };
}
