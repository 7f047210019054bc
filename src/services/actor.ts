import type { OrganizationRole } from '../db/tables';
import type { ExternalIdentity } from '../security/oidc';

export type { ExternalIdentity };

/** Who is calling: the account behind a token (ours or an identity provider's) or an API key. */
export interface Actor {
  accountId: string;
  role: 'admin' | 'user';
  /** `oidc`: an access token of a trusted OpenID Connect issuer; `trigger`: a schedule or webhook starting a flow. */
  via: 'token' | 'api_key' | 'oidc' | 'trigger';
  /**
   * The organizations the caller acts in and its role in each (ownership.ts decides with it). An
   * API key issued for one organization carries only that one, at its role.
   */
  memberships: ReadonlyMap<string, OrganizationRole>;
  /** The organization an API key of one organization is limited to. */
  keyOrganization?: string;
  /** The token's id and expiry, when authenticated by a token (logout and refresh revoke it). */
  token?: { jti: string; expiresAt: Date };
  /** The verified identity, when authenticated by an identity provider's token. */
  external?: ExternalIdentity;
}
