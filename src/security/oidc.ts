/**
 * Access tokens of trusted OpenID Connect issuers, verified with `jose`: the issuer's discovery
 * document names its key set (`jwks_uri`); the key set is fetched once and cached, fetched again
 * when a token names a key it does not hold (rotation; at most once per cooldown) and when it is
 * older than KEY_SET_MAX_AGE_MS. `iss`, `aud`, `exp` and `nbf` are checked with a bounded clock
 * skew; only asymmetric algorithms are accepted, so no shared secret can sign for an issuer.
 *
 * Nothing here touches storage: the verified identity goes to AuthService, which finds its account.
 */
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { OidcConfig } from '../config';
import { UnauthorizedError } from '../errors';

const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
const DISCOVERY_TIMEOUT_MS = 5000;
/** After a failed discovery, the next request tries again only this much later (an unreachable issuer is not hammered). */
const DISCOVERY_RETRY_MS = 5000;
/** A key the issuer stopped publishing is trusted at most this long after the last fetch. */
const KEY_SET_MAX_AGE_MS = 10 * 60_000;

/** Who a verified external token says the caller is. */
export interface ExternalIdentity {
  issuer: string;
  subject: string;
  email: string | undefined;
  /** False only when the token says the email is not verified. */
  emailVerified: boolean;
  name: string | undefined;
  /** The roles claim's values; undefined when no roles claim is configured. */
  roles: string[] | undefined;
  /** `exp`, in seconds since the epoch. */
  expiresAt: number;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** What browser sign-in needs of an issuer's discovery document (endpoints checked like `jwks_uri`). */
export interface ProviderMetadata {
  authorizationEndpoint: string | undefined;
  tokenEndpoint: string | undefined;
  endSessionEndpoint: string | undefined;
  /** `code_challenge_methods_supported`, when the document lists it. */
  codeChallengeMethods: string[] | undefined;
}

interface Discovered {
  keys: KeySet;
  metadata: ProviderMetadata;
}

interface Discovery {
  keys?: Discovered;
  failedAt?: number;
  pending?: Promise<Discovered>;
}

function invalid(message: string, reason: string, details: Record<string, unknown> = {}): UnauthorizedError {
  return new UnauthorizedError(message, { reason, ...details });
}

/** A claim by its exact name, else by a dotted path (`realm_access.roles`); names like `https://x/roles` work as they are. */
function claim(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  return name.split('.').reduce<unknown>((v, key) => {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    return (v as Record<string, unknown>)[key];
  }, payload);
}

function stringOrUndefined(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function sameOrigin(issuer: string, url: URL): boolean {
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback && new URL(issuer).protocol === 'http:');
}

export class OidcVerifier {
  private readonly issuers: Set<string>;
  private readonly discoveries = new Map<string, Discovery>();

  constructor(private readonly config: OidcConfig) {
    this.issuers = new Set(config.issuers);
  }

  /**
   * Whether a token claims to come from a trusted issuer. Read without verification, only to pick
   * the verifier; `verify` then checks everything, so a forged `iss` gains nothing.
   */
  claimsTrustedIssuer(token: string): boolean {
    try {
      const iss = decodeJwt(token).iss;
      return typeof iss === 'string' && this.issuers.has(iss);
    } catch {
      return false;
    }
  }

  async verify(token: string): Promise<ExternalIdentity> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw invalid('The token is invalid', 'malformed');
    }
    if (typeof iss !== 'string' || !this.issuers.has(iss)) {
      throw invalid('The token is not from a trusted issuer', 'untrusted_issuer');
    }
    const { keys } = await this.discovered(iss);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: iss,
        audience: this.config.audience,
        algorithms: ALGORITHMS,
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw this.explain(err);
    }
    return this.identity(iss, payload);
  }

  /**
   * An ID token from the token endpoint of browser sign-in: signed by the issuer's published keys
   * (as access tokens are), for `clientId` (`aud`, and `azp` when present), with the `nonce` of
   * this sign-in.
   */
  async verifyIdToken(
    token: string,
    expected: { issuer: string; clientId: string; nonce: string },
  ): Promise<ExternalIdentity> {
    const { keys } = await this.discovered(expected.issuer);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: expected.issuer,
        audience: expected.clientId,
        algorithms: ALGORITHMS,
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (err) {
      throw this.explain(err);
    }
    if (payload.nonce !== expected.nonce) throw invalid('The ID token is not for this sign-in (nonce)', 'nonce');
    if (payload.azp !== undefined && payload.azp !== expected.clientId) {
      throw invalid('The ID token was issued to another client (azp)', 'claims', { claim: 'azp' });
    }
    return this.identity(expected.issuer, payload);
  }

  /** The issuer's endpoints, from its discovery document (fetched once, as for its keys). */
  async metadata(issuer: string): Promise<ProviderMetadata> {
    return (await this.discovered(issuer)).metadata;
  }

  /** The role a token gives its holder; undefined when roles are not taken from tokens. */
  roleOf(identity: ExternalIdentity): 'admin' | 'user' | undefined {
    if (identity.roles === undefined) return undefined;
    return identity.roles.includes(this.config.adminRole) ? 'admin' : 'user';
  }

  get emailClaim(): string {
    return this.config.emailClaim;
  }

  private identity(issuer: string, payload: JWTPayload): ExternalIdentity {
    const { rolesClaim, emailClaim } = this.config;
    let roles: string[] | undefined;
    if (rolesClaim !== undefined) {
      const raw = claim(payload, rolesClaim);
      roles = Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string') : [];
      if (typeof raw === 'string') roles = raw.split(/[\s,]+/).filter(Boolean);
    }
    return {
      issuer,
      subject: payload.sub!,
      email: stringOrUndefined(claim(payload, emailClaim))?.toLowerCase(),
      emailVerified: payload.email_verified !== false,
      name: stringOrUndefined(payload.name) ?? stringOrUndefined(payload.preferred_username),
      roles,
      expiresAt: payload.exp!,
    };
  }

  private explain(err: unknown): UnauthorizedError {
    if (err instanceof UnauthorizedError) return err;
    if (err instanceof errors.JWTExpired) return invalid('The token has expired', 'expired');
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') {
        return invalid(
          `The token is not meant for this API (its audience is not "${this.config.audience}")`,
          'audience',
        );
      }
      if (err.claim === 'nbf') return invalid('The token is not valid yet', 'not_yet_valid');
      return invalid(`The token's "${err.claim}" claim is invalid`, 'claims', { claim: err.claim });
    }
    if (err instanceof errors.JWKSNoMatchingKey) {
      return invalid('The token is signed with a key its issuer does not publish', 'unknown_key');
    }
    if (err instanceof errors.JWSSignatureVerificationFailed)
      return invalid('The token signature is invalid', 'signature');
    if (err instanceof errors.JOSEAlgNotAllowed)
      return invalid('The token is signed with an algorithm not accepted', 'algorithm');
    if (err instanceof errors.JWKSTimeout || err instanceof TypeError) {
      return invalid(
        'The identity provider could not be reached to verify the token; retry later',
        'issuer_unreachable',
      );
    }
    return invalid('The token is invalid', 'invalid');
  }

  /** The issuer's key set and endpoints, from its discovery document, discovered once (and again after a failure, not sooner than DISCOVERY_RETRY_MS). */
  private async discovered(issuer: string): Promise<Discovered> {
    let d = this.discoveries.get(issuer);
    if (!d) this.discoveries.set(issuer, (d = {}));
    if (d.keys) return d.keys;
    if (d.pending) return d.pending;
    if (d.failedAt !== undefined && Date.now() - d.failedAt < DISCOVERY_RETRY_MS) throw this.unreachable(issuer);
    const entry = d;
    entry.pending = this.discover(issuer).then(
      (keys) => {
        entry.keys = keys;
        entry.pending = undefined;
        return keys;
      },
      (err: unknown) => {
        entry.failedAt = Date.now();
        entry.pending = undefined;
        throw err;
      },
    );
    return entry.pending;
  }

  private async discover(issuer: string): Promise<Discovered> {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let doc: Record<string, unknown>;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch {
      throw this.unreachable(issuer);
    }
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (doc.issuer !== issuer || typeof doc.jwks_uri !== 'string') {
      throw invalid('The identity provider’s discovery document does not match its issuer', 'issuer_misconfigured', {
        issuer,
      });
    }
    const jwksUri = new URL(doc.jwks_uri);
    if (!sameOrigin(issuer, jwksUri)) {
      throw invalid('The identity provider’s key set is not served over https', 'issuer_misconfigured', { issuer });
    }
    const keys = createRemoteJWKSet(jwksUri, {
      timeoutDuration: DISCOVERY_TIMEOUT_MS,
      cooldownDuration: this.config.jwksCooldownSeconds * 1000,
      cacheMaxAge: KEY_SET_MAX_AGE_MS,
    });
    const endpoint = (name: string): string | undefined => {
      const raw = doc[name];
      if (typeof raw !== 'string') return undefined;
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        return undefined;
      }
      if (!sameOrigin(issuer, parsed)) {
        throw invalid(`The identity provider’s ${name} is not served over https`, 'issuer_misconfigured', { issuer });
      }
      return parsed.href;
    };
    const methods = doc.code_challenge_methods_supported;
    return {
      keys,
      metadata: {
        authorizationEndpoint: endpoint('authorization_endpoint'),
        tokenEndpoint: endpoint('token_endpoint'),
        endSessionEndpoint: endpoint('end_session_endpoint'),
        codeChallengeMethods: Array.isArray(methods)
          ? methods.filter((m): m is string => typeof m === 'string')
          : undefined,
      },
    };
  }

  private unreachable(issuer: string): UnauthorizedError {
    return invalid(
      'The identity provider could not be reached to verify the token; retry later',
      'issuer_unreachable',
      {
        issuer,
      },
    );
  }
}
