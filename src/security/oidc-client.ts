/**
 * FlowRunner as an OpenID Connect relying party (browser sign-in): the authorization request with
 * PKCE (S256), `state` and `nonce`, and the exchange of the code at the token endpoint, by `fetch`
 * to the endpoints of the issuer's discovery document (`OidcVerifier.metadata`). The ID token that
 * comes back is verified by `OidcVerifier.verifyIdToken`, with the issuer's keys. A confidential
 * client authenticates with HTTP Basic (`client_secret_basic`), a public one sends its `client_id`.
 */
import crypto from 'node:crypto';
import type { SignInConfig } from '../config';
import type { ProviderMetadata } from './oidc';

const TOKEN_TIMEOUT_MS = 10_000;

/** A fresh random value, base64url (43 characters: 256 bits). */
export function randomToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function sha256(value: string): string {
  return crypto.createHash('sha256').update(value).digest('base64url');
}

export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export function authorizationRequest(config: SignInConfig, metadata: ProviderMetadata): AuthorizationRequest {
  const state = randomToken();
  const nonce = randomToken();
  const codeVerifier = randomToken();
  const url = new URL(metadata.authorizationEndpoint!);
  const params = {
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scopes,
    state,
    nonce,
    code_challenge: sha256(codeVerifier),
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { url: url.href, state, nonce, codeVerifier };
}

/** Why the token endpoint gave no ID token. */
export class CodeExchangeError extends Error {
  constructor(
    message: string,
    /** `unreachable`: no answer; `refused`: an OAuth error answer (`error`); `malformed`: no ID token in it. */
    readonly kind: 'unreachable' | 'refused' | 'malformed',
    readonly error?: string,
  ) {
    super(message);
  }
}

/** The ID token for an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5). */
export async function exchangeCode(
  config: SignInConfig,
  metadata: ProviderMetadata,
  code: string,
  codeVerifier: string,
): Promise<string> {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: config.redirectUri,
    code_verifier: codeVerifier,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (config.clientSecret === undefined) body.set('client_id', config.clientId);
  else {
    // RFC 6749 §2.3.1: each part form-urlencoded before joining.
    const id = encodeURIComponent(config.clientId);
    const secret = encodeURIComponent(config.clientSecret);
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  }
  let res: Response;
  let answer: Record<string, unknown>;
  try {
    res = await fetch(metadata.tokenEndpoint!, {
      method: 'POST',
      headers,
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
    });
    answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  } catch {
    throw new CodeExchangeError('The identity provider’s token endpoint could not be reached', 'unreachable');
  }
  if (!res.ok) {
    const error = typeof answer.error === 'string' ? answer.error : `HTTP ${res.status}`;
    const description = typeof answer.error_description === 'string' ? `: ${answer.error_description}` : '';
    throw new CodeExchangeError(`The identity provider refused the code (${error}${description})`, 'refused', error);
  }
  if (typeof answer.id_token !== 'string') {
    throw new CodeExchangeError(
      'The identity provider answered without an ID token (is "openid" among the scopes?)',
      'malformed',
    );
  }
  return answer.id_token;
}
