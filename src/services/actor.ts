/** Who is calling: the account behind a token or an API key. */
export interface Actor {
  accountId: string;
  role: 'admin' | 'user';
  via: 'token' | 'api_key' | 'trigger';
  /** The token's id and expiry, when authenticated by a token (logout and refresh revoke it). */
  token?: { jti: string; expiresAt: Date };
}
