/**
 * Login, tokens and API-key authentication. JWTs are HS256 only (pinned on verify), carry `exp`,
 * `iat`, `jti`, `sub`, and are checked for issuer, audience and revocation on every request.
 *
 * A request reads nothing when the caches are warm: token subjects (account → role) and API keys
 * are cached by the invalidation bus's rules, revoked jtis are all held in memory (RevokedTokens).
 *
 * Access tokens of trusted OpenID Connect issuers (FLOWRUNNER_OIDC_ISSUER) are accepted too: a
 * token whose unverified `iss` is a trusted issuer goes to OidcVerifier (security/oidc.ts), the
 * others to our own HS256 check. A verified external token is remembered like ours until it
 * expires, and its account (by issuer and subject) is cached like a token subject, so an external
 * token costs no network call and no query per request once seen.
 */
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Db } from '../db/knex';
import type { Config } from '../config';
import { InvalidatedCache, type InvalidationBus } from '../db/invalidation';
import type { AccountRow, OrganizationRole } from '../db/tables';
import { RateLimitedError, UnauthorizedError } from '../errors';
import type { Logger } from '../log';
import { findAccountByEmail, findAccountRole, findExternalAccount } from '../repositories/accounts.repository';
import { findApiKeyWithOwner, touchApiKey } from '../repositories/api-keys.repository';
import { clearLoginFailures, findLoginFailures, recordLoginFailure } from '../repositories/login-failures.repository';
import { findTokenSubject, insertRevokedToken } from '../repositories/tokens.repository';
import { listMembershipsOf } from '../repositories/organizations.repository';
import type { Actor } from './actor';
import { rank } from './ownership';
import { committing } from './changes';
import { revocationId, RevokedTokens } from './revoked-tokens';
import { DUMMY_HASH_PROMISE, verifyPassword } from '../security/passwords';
import { OidcVerifier, type ExternalIdentity } from '../security/oidc';

const ISSUER = 'flowrunner';
const AUDIENCE = 'flowrunner-api';
const API_KEY_TOUCH_MS = 60_000;
const ADDRESS_FAILURE_FACTOR = 5;
const MAX_CACHED_SUBJECTS = 10_000;
const MAX_CACHED_API_KEYS = 10_000;

/** A token's subject: its role, or null once the account is gone. */
type Subject = AccountRow['role'] | null;

interface CachedApiKey {
  id: string;
  account_id: string;
  role: AccountRow['role'];
  expires_at: Date | null;
  organization_id: string | null;
  organization_role: OrganizationRole | null;
  /** When this process last recorded a use (or the database's last one, when first read). */
  last_used_at: Date | null;
}

export interface IssuedToken {
  token: string;
  expires_at: string;
  account_id: string;
}

function tooManyFailures(remainingMs: number): RateLimitedError {
  return new RateLimitedError('Too many failed logins; retry later', Math.max(1, Math.ceil(remainingMs / 1000)));
}

/** Every API key starts so; a bearer credential that does is a key, not a JWT (001 sends keys so). */
export const API_KEY_PREFIX = 'frk_';

export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

function bearer(authorization: string): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw new UnauthorizedError('The Authorization header must be "Bearer <token>"');
  return match[1];
}

interface VerifiedClaims {
  sub: string;
  jti: string;
  exp: number;
}

/** Tokens whose signature was verified, remembered per process. */
const MAX_VERIFIED_TOKENS = 10_000;

/** The external account of an identity, cached per `issuer subject`. */
interface ExternalAccount {
  id: string;
  role: AccountRow['role'];
}

type Memberships = ReadonlyMap<string, OrganizationRole>;
const NO_MEMBERSHIPS: Memberships = new Map();

/** A caller of an operation that also takes a verified identity without an account (provisioning). */
export type Caller = { actor: Actor; identity?: undefined } | { actor?: undefined; identity: ExternalIdentity };

export class AuthService {
  private readonly verified = new Map<string, VerifiedClaims>();
  private readonly verifiedExternal = new Map<string, ExternalIdentity>();
  private readonly oidc: OidcVerifier | undefined;
  private readonly externalAccounts: InvalidatedCache<ExternalAccount>;
  // A KeyObject, not the string: given a string, jsonwebtoken first tries it as a public key on
  // every sign and verify, which costs ~50x the HMAC itself.
  private readonly jwtKey: crypto.KeyObject;
  private readonly subjects: InvalidatedCache<Subject>;
  private readonly apiKeys: InvalidatedCache<CachedApiKey>;
  private readonly revoked: RevokedTokens;
  /** Each account's organizations and roles, read once and kept until a membership of it changes. */
  private readonly memberships: InvalidatedCache<Memberships>;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    jwtSecret: string,
    private readonly bus: InvalidationBus,
    log: Logger,
  ) {
    this.jwtKey = crypto.createSecretKey(Buffer.from(jwtSecret, 'utf8'));
    this.subjects = new InvalidatedCache(bus, MAX_CACHED_SUBJECTS);
    this.apiKeys = new InvalidatedCache(bus, MAX_CACHED_API_KEYS);
    this.revoked = new RevokedTokens(db, bus, log);
    this.oidc = config.oidc && new OidcVerifier(config.oidc);
    this.externalAccounts = new InvalidatedCache(bus, MAX_CACHED_SUBJECTS);
    this.memberships = new InvalidatedCache(bus, MAX_CACHED_SUBJECTS);
    bus.on('membership', (id) => this.memberships.delete(id));
    bus.on('account', (id) => {
      this.subjects.delete(id);
      this.externalAccounts.deleteWhere((a) => a.id === id);
      this.apiKeys.deleteWhere((k) => k.account_id === id);
      this.memberships.delete(id);
    });
    bus.on('api_key', (hash) => this.apiKeys.delete(hash));
  }

  issueToken(accountId: string): IssuedToken {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.config.jwtTtlSeconds;
    const token = jwt.sign({ sub: accountId, iat: now, exp, jti: crypto.randomUUID() }, this.jwtKey, {
      algorithm: 'HS256',
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    return { token, expires_at: new Date(exp * 1000).toISOString(), account_id: accountId };
  }

  /**
   * Failures count per (email, client address) and per client address, never per email alone: a
   * stranger's wrong guesses must not lock the owner out from the owner's own address. A success
   * clears only its own pair, so owning one account does not reset the guessing against another.
   */
  async login(email: string, password: string, clientAddress: string): Promise<IssuedToken> {
    const pairKey = `pair:${email.toLowerCase()} ${clientAddress}`;
    const addressKey = `ip:${clientAddress}`;
    const now = Date.now();
    const locks = (await findLoginFailures(this.db, [pairKey, addressKey]))
      .map((r) => r.locked_until?.getTime() ?? 0)
      .filter((until) => until > now);
    if (locks.length > 0) throw tooManyFailures(Math.max(...locks) - now);
    const account = await findAccountByEmail(this.db, email);
    // The same work whether or not the account exists, so the answer's timing reveals nothing.
    const ok = await verifyPassword(password, account?.password_hash ?? (await DUMMY_HASH_PROMISE));
    if (!account || !ok) {
      const policy = {
        maxFailures: this.config.loginMaxFailures,
        lockSeconds: this.config.loginLockSeconds,
        windowSeconds: this.config.loginWindowSeconds,
      };
      const rows = [
        await recordLoginFailure(this.db, pairKey, policy),
        // One address may serve many people (an office behind NAT): it gets more tries than one pair.
        await recordLoginFailure(this.db, addressKey, {
          ...policy,
          maxFailures: policy.maxFailures * ADDRESS_FAILURE_FACTOR,
        }),
      ];
      const lockedNow = rows.map((r) => r.locked_until?.getTime() ?? 0).filter((until) => until > Date.now());
      if (lockedNow.length > 0) throw tooManyFailures(Math.max(...lockedNow) - Date.now());
      throw new UnauthorizedError('Invalid username or password');
    }
    await clearLoginFailures(this.db, [pairKey]);
    return this.issueToken(account.id);
  }

  async refresh(actor: Actor): Promise<IssuedToken> {
    if (actor.via === 'oidc') throw new UnauthorizedError('A token from an identity provider is refreshed there');
    if (!actor.token) throw new UnauthorizedError('Refresh needs a bearer token, not an API key');
    await this.revoke(actor.token);
    return this.issueToken(actor.accountId);
  }

  async logout(actor: Actor): Promise<void> {
    if (actor.via === 'oidc') throw new UnauthorizedError('A token from an identity provider is revoked there');
    if (!actor.token) throw new UnauthorizedError('Logout needs a bearer token, not an API key');
    await this.revoke(actor.token);
  }

  private async revoke(token: NonNullable<Actor['token']>): Promise<void> {
    await committing(this.db, this.bus, async (tx, changed) => {
      await insertRevokedToken(tx, token.jti, token.expiresAt);
      await changed('revocation', revocationId(token.jti, token.expiresAt));
    });
  }

  /** The actor behind a bearer token; 401 for anything expired, revoked, tampered or foreign. */
  async authenticateToken(token: string): Promise<Actor> {
    if (this.isExternal(token)) {
      const identity = await this.externalIdentity(token);
      const actor = await this.externalActor(identity);
      if (!actor) {
        throw new UnauthorizedError(
          'This identity has no FlowRunner account yet: POST /api/v1/users/me with this token to create it',
          { reason: 'account_not_provisioned', issuer: identity.issuer, external_id: identity.subject },
        );
      }
      return actor;
    }
    const claims = this.verifiedClaims(token);
    const role = await this.subjectRole(claims.sub, claims.jti);
    return {
      accountId: claims.sub,
      role,
      via: 'token',
      memberships: await this.membershipsOf(claims.sub),
      token: { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) },
    };
  }

  /**
   * The caller of `POST /users/me`: an actor when the credentials have an account, else the
   * verified identity of an external token that has none yet.
   */
  async identify(authorization: string | undefined, apiKey: string | undefined): Promise<Caller> {
    const token = authorization !== undefined ? bearer(authorization) : undefined;
    if (token !== undefined && this.isExternal(token)) {
      const identity = await this.externalIdentity(token);
      const actor = await this.externalActor(identity);
      return actor ? { actor } : { identity };
    }
    return { actor: await this.authenticate(authorization, apiKey) };
  }

  /** Ours are recognised first, from the cache, so a warm token of ours never looks further. */
  private isExternal(token: string): boolean {
    if (this.oidc === undefined || this.verified.has(token)) return false;
    return this.verifiedExternal.has(token) || this.oidc.claimsTrustedIssuer(token);
  }

  private async externalIdentity(token: string): Promise<ExternalIdentity> {
    const known = this.verifiedExternal.get(token);
    if (known && known.expiresAt * 1000 > Date.now()) return known;
    const identity = await this.oidc!.verify(token);
    if (this.verifiedExternal.size >= MAX_VERIFIED_TOKENS) this.verifiedExternal.clear();
    this.verifiedExternal.set(token, identity);
    return identity;
  }

  /** The actor of an identity's account; undefined when it has none. With a roles claim, the token's roles decide the role. */
  private async externalActor(identity: ExternalIdentity): Promise<Actor | undefined> {
    const account = await this.externalAccounts.get(`${identity.issuer} ${identity.subject}`, () =>
      findExternalAccount(this.db, identity.issuer, identity.subject),
    );
    if (!account) return undefined;
    return {
      accountId: account.id,
      role: this.oidc!.roleOf(identity) ?? account.role,
      via: 'oidc',
      memberships: await this.membershipsOf(account.id),
      external: identity,
    };
  }

  /** The role an identity's token gives, when roles come from tokens (FLOWRUNNER_OIDC_ROLES_CLAIM). */
  externalRole(identity: ExternalIdentity): AccountRow['role'] | undefined {
    return this.oidc?.roleOf(identity);
  }

  /** The verifier of trusted issuers' tokens (undefined without FLOWRUNNER_OIDC_ISSUER); browser sign-in shares its discovery and keys. */
  get oidcVerifier(): OidcVerifier | undefined {
    return this.oidc;
  }

  /** The claim an external account's email is read from. */
  get externalEmailClaim(): string {
    return this.oidc?.emailClaim ?? 'email';
  }

  /**
   * The claims of a token whose signature checked out: a token's text never changes what it
   * says, so a verified one is remembered (bounded) until it expires, and the next request with it
   * skips the HMAC and the parse. Revocation and the account are checked on every request.
   */
  private verifiedClaims(token: string): VerifiedClaims {
    const known = this.verified.get(token);
    if (known && known.exp * 1000 > Date.now()) return known;
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(token, this.jwtKey, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      }) as jwt.JwtPayload;
    } catch (err) {
      const expired = (err as Error).name === 'TokenExpiredError';
      throw new UnauthorizedError(expired ? 'The token has expired' : 'The token is invalid');
    }
    if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') {
      throw new UnauthorizedError('The token is invalid');
    }
    const verified = { sub: claims.sub, jti: claims.jti, exp: claims.exp };
    if (this.verified.size >= MAX_VERIFIED_TOKENS) this.verified.clear();
    this.verified.set(token, verified);
    return verified;
  }

  /** The role of a token's account; 401 when the account is gone or the token revoked. */
  private async subjectRole(accountId: string, jti: string): Promise<AccountRow['role']> {
    const revoked = this.revoked.isRevoked(jti);
    if (revoked === undefined) {
      // The revocations are not in memory yet: both answers in one query, as before there was a cache.
      const subject = await findTokenSubject(this.db, accountId, jti);
      if (!subject) throw new UnauthorizedError('The token is invalid');
      if (subject.revoked) throw new UnauthorizedError('The token has been revoked');
      return subject.role;
    }
    const role = await this.subjects.get(accountId, async () => (await findAccountRole(this.db, accountId)) ?? null);
    if (!role) throw new UnauthorizedError('The token is invalid');
    if (revoked) throw new UnauthorizedError('The token has been revoked');
    return role;
  }

  async authenticateApiKey(key: string): Promise<Actor> {
    const hash = hashApiKey(key);
    // Unknown keys are not cached: a stranger's guesses must not push the real keys out.
    const row = await this.apiKeys.get(hash, async () => {
      const found = await findApiKeyWithOwner(this.db, hash);
      if (!found || !crypto.timingSafeEqual(Buffer.from(found.key_hash), Buffer.from(hash))) return undefined;
      const { id, account_id, role, expires_at, last_used_at, organization_id, organization_role } = found;
      return { id, account_id, role, expires_at, last_used_at, organization_id, organization_role };
    });
    if (!row) throw new UnauthorizedError('The API key is invalid');
    if (row.expires_at && row.expires_at.getTime() <= Date.now())
      throw new UnauthorizedError('The API key has expired');
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > API_KEY_TOUCH_MS) {
      row.last_used_at = new Date();
      await touchApiKey(this.db, row.id);
    }
    const memberships = await this.membershipsOf(row.account_id);
    if (row.organization_id === null) return { accountId: row.account_id, role: row.role, via: 'api_key', memberships };
    // A key of one organization acts there only, at its role or its creator's present one if lower,
    // and is no admin whatever its creator is.
    const creatorRole = row.role === 'admin' ? 'owner' : memberships.get(row.organization_id);
    const role =
      creatorRole === undefined
        ? undefined
        : rank(creatorRole) < rank(row.organization_role!)
          ? creatorRole
          : row.organization_role!;
    return {
      accountId: row.account_id,
      role: 'user',
      via: 'api_key',
      memberships: role === undefined ? NO_MEMBERSHIPS : new Map([[row.organization_id, role]]),
      keyOrganization: row.organization_id,
    };
  }

  /** The organizations an account belongs to and its role in each; cached (a change of them invalidates `membership:<account>`). */
  async membershipsOf(accountId: string): Promise<Memberships> {
    return (await this.memberships.get(accountId, async () => {
      const rows = await listMembershipsOf(this.db, accountId);
      return new Map(rows.map((m) => [m.organization_id, m.role]));
    }))!;
  }

  /** From request headers: `Authorization: Bearer …` or `X-API-Key`. */
  async authenticate(authorization: string | undefined, apiKey: string | undefined): Promise<Actor> {
    if (authorization !== undefined) {
      const credential = bearer(authorization);
      // 001's examples send API keys as bearer credentials too.
      if (credential.startsWith(API_KEY_PREFIX)) return this.authenticateApiKey(credential);
      return this.authenticateToken(credential);
    }
    if (apiKey !== undefined) return this.authenticateApiKey(apiKey);
    throw new UnauthorizedError(
      'Authentication is required: send "Authorization: Bearer <token>" or "X-API-Key: <key>"',
    );
  }
}
