/**
 * Browser sign-in at an identity provider (authorization code + PKCE), for the console and the
 * docs. The server is the OpenID Connect client: it keeps the PKCE verifier and nonce (in
 * `oidc_sign_ins`, by the state's hash, bound to the browser's cookie), exchanges the code itself
 * (a confidential client when a secret is configured, a public one otherwise), verifies the ID
 * token with the same verifier and keys as access tokens, and creates the account on first sight
 * exactly as `POST /users/me` does. What the browser then holds is a FlowRunner token of ours: the
 * console takes it once from `oidc_sign_in_handoffs`, the docs get it as a cookie.
 */
import type { Config, SignInConfig } from '../config';
import type { InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import {
  ForbiddenError,
  InvalidRequestError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
  type AppError,
} from '../errors';
import {
  deleteExpiredOidcSignIns,
  insertOidcSignIn,
  takeOidcHandoff,
  takeOidcSignIn,
  upsertOidcHandoff,
} from '../repositories/oidc-sign-ins.repository';
import { updateAccountRow } from '../repositories/accounts.repository';
import { authorizationRequest, CodeExchangeError, exchangeCode, randomToken, sha256 } from '../security/oidc-client';
import type { OidcVerifier, ProviderMetadata } from '../security/oidc';
import type { AuthService, IssuedToken } from './auth.service';
import { committing } from './changes';
import type { UsersService } from './users.service';

/** How long a browser has at the identity provider. */
export const SIGN_IN_TTL_SECONDS = 600;
/** How long a finished sign-in waits for the console to take its token. */
const HANDOFF_TTL_SECONDS = 60;

export type ReturnTo = 'console' | 'docs';

export interface CallbackQuery {
  code?: string;
  state?: string;
  iss?: string;
  error?: string;
  error_description?: string;
}

export interface SignInOptions {
  password: true;
  identity_provider: { name: string; issuer: string; sign_in_url: string } | null;
  docs_private: boolean;
}

export class SignInService {
  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly auth: AuthService,
    private readonly users: UsersService,
    private readonly bus: InvalidationBus,
  ) {}

  options(signInUrl: string): SignInOptions {
    const c = this.config.signIn;
    return {
      password: true,
      identity_provider: c ? { name: c.name, issuer: c.issuer, sign_in_url: signInUrl } : null,
      docs_private: this.config.docsPrivate,
    };
  }

  /** The provider's authorization URL for a new sign-in, and the secret the browser keeps in its cookie. */
  async start(returnTo: ReturnTo): Promise<{ location: string; browserSecret: string }> {
    const { config, verifier } = this.configured();
    const metadata = await this.metadata(config, verifier);
    if (!metadata.authorizationEndpoint || !metadata.tokenEndpoint) {
      throw new UnavailableError(`${config.name} does not publish an authorization and a token endpoint`, {
        reason: 'issuer_misconfigured',
      });
    }
    if (metadata.codeChallengeMethods && !metadata.codeChallengeMethods.includes('S256')) {
      throw new UnavailableError(`${config.name} does not support PKCE with S256`, { reason: 'issuer_misconfigured' });
    }
    const request = authorizationRequest(config, metadata);
    const browserSecret = randomToken();
    await deleteExpiredOidcSignIns(this.db);
    await insertOidcSignIn(this.db, {
      state_hash: sha256(request.state),
      browser_hash: sha256(browserSecret),
      nonce: request.nonce,
      code_verifier: request.codeVerifier,
      return_to: returnTo,
      expires_at: new Date(Date.now() + SIGN_IN_TTL_SECONDS * 1000),
    });
    return { location: request.url, browserSecret };
  }

  /**
   * The provider's answer: checks the state against the browser's cookie, exchanges the code,
   * verifies the ID token and finds or creates the account. For the docs, the token is issued
   * here; for the console, it waits for `takeSession`.
   */
  async finish(
    query: CallbackQuery,
    browserSecret: string | undefined,
  ): Promise<{ returnTo: ReturnTo; token: IssuedToken | undefined }> {
    const { config, verifier } = this.configured();
    const signIn = query.state ? await takeOidcSignIn(this.db, sha256(query.state)) : undefined;
    const bound = signIn !== undefined && browserSecret !== undefined && signIn.browser_hash === sha256(browserSecret);
    if (query.error !== undefined) throw this.providerError(config, query);
    if (!signIn || !bound || signIn.expires_at.getTime() <= Date.now()) {
      throw new InvalidRequestError(
        'This sign-in is unknown, already used, expired, or was started in another browser; start signing in again',
        { field: 'state', reason: 'state_mismatch' },
      );
    }
    // RFC 9207: an answer that names its issuer must name ours (a mix-up with another provider).
    if (query.iss !== undefined && query.iss !== config.issuer) {
      throw new InvalidRequestError('The answer comes from another identity provider than the one asked', {
        field: 'iss',
        reason: 'issuer_mismatch',
      });
    }
    if (!query.code) {
      throw new InvalidRequestError('The identity provider sent no authorization code', {
        field: 'code',
        reason: 'missing',
      });
    }
    const metadata = await this.metadata(config, verifier);
    let idToken: string;
    try {
      idToken = await exchangeCode(config, metadata, query.code, signIn.code_verifier);
    } catch (err) {
      if (!(err instanceof CodeExchangeError)) throw err;
      if (err.kind === 'refused' && err.error === 'invalid_grant') {
        throw new InvalidRequestError(`${err.message}; start signing in again`, { reason: 'invalid_grant' });
      }
      throw new UnavailableError(err.message, { reason: `token_${err.kind}` });
    }
    let identity;
    try {
      identity = await verifier.verifyIdToken(idToken, {
        issuer: config.issuer,
        clientId: config.clientId,
        nonce: signIn.nonce,
      });
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      const reason = (err.details?.reason as string | undefined) ?? 'invalid';
      const message = `The identity provider’s ID token could not be accepted: ${err.message}`;
      if (reason === 'issuer_unreachable') throw new UnavailableError(message, { reason });
      throw new InvalidRequestError(message, { reason: `id_token_${reason}` });
    }
    const { account } = await this.users.provision({ identity }, {});
    // With a roles claim the provider decides admin or user; the session is our token, which
    // carries the account's role, so the account takes the role this sign-in's ID token gives.
    const role = this.auth.externalRole(identity);
    if (role !== undefined && role !== account.role) {
      await committing(this.db, this.bus, async (tx, changed) => {
        await updateAccountRow(tx, account.id, { role });
        await changed('account', account.id);
      });
    }
    if (signIn.return_to === 'docs') return { returnTo: 'docs', token: this.auth.issueToken(account.id) };
    await upsertOidcHandoff(this.db, signIn.browser_hash, account.id, HANDOFF_TTL_SECONDS);
    return { returnTo: 'console', token: undefined };
  }

  /** The console's token, once, for the browser whose sign-in just finished. */
  async takeSession(browserSecret: string | undefined): Promise<IssuedToken> {
    this.configured();
    const accountId = browserSecret ? await takeOidcHandoff(this.db, sha256(browserSecret)) : undefined;
    if (!accountId) {
      throw new UnauthorizedError('No sign-in finished in this browser in the last minute; sign in again', {
        reason: 'no_sign_in',
      });
    }
    return this.auth.issueToken(accountId);
  }

  /** Where the browser goes to sign out at the provider too (its end-session endpoint, or the console). */
  async endSession(sessionToken: string | undefined): Promise<string> {
    const { config, verifier } = this.configured();
    if (sessionToken !== undefined) {
      try {
        await this.auth.logout(await this.auth.authenticateToken(sessionToken));
      } catch (err) {
        // Already expired or revoked: nothing left to end here.
        if (!(err instanceof UnauthorizedError)) throw err;
      }
    }
    const back = `${config.publicUrl}/console`;
    let metadata: ProviderMetadata;
    try {
      metadata = await verifier.metadata(config.issuer);
    } catch {
      return back; // signed out here; the provider cannot be told now
    }
    if (!metadata.endSessionEndpoint) return back;
    const url = new URL(metadata.endSessionEndpoint);
    url.searchParams.set('client_id', config.clientId);
    url.searchParams.set('post_logout_redirect_uri', back);
    return url.href;
  }

  private configured(): { config: SignInConfig; verifier: OidcVerifier } {
    const config = this.config.signIn;
    const verifier = this.auth.oidcVerifier;
    if (!config || !verifier) {
      throw new NotFoundError('Browser sign-in at an identity provider is not configured on this server', {
        reason: 'sign_in_not_configured',
      });
    }
    return { config, verifier };
  }

  private async metadata(config: SignInConfig, verifier: OidcVerifier): Promise<ProviderMetadata> {
    try {
      return await verifier.metadata(config.issuer);
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      throw new UnavailableError(`${config.name} could not be reached to sign in; try again in a moment`, {
        reason: (err.details?.reason as string | undefined) ?? 'issuer_unreachable',
        issuer: config.issuer,
      });
    }
  }

  private providerError(config: SignInConfig, query: CallbackQuery): AppError {
    const said = query.error_description ? ` (“${query.error_description}”)` : '';
    const details = { reason: query.error, field: 'error' };
    if (query.error === 'access_denied') {
      return new ForbiddenError(`Sign-in was refused at ${config.name}${said}`, details);
    }
    if (query.error === 'temporarily_unavailable' || query.error === 'server_error') {
      return new UnavailableError(`${config.name} could not sign you in now${said}; try again in a moment`, details);
    }
    return new InvalidRequestError(`${config.name} did not sign you in: ${query.error}${said}`, details);
  }
}
