/**
 * Environment parsed and validated once into a typed config. A bad value stops start-up with a
 * message naming the variable.
 */
import path from 'node:path';

export type Role = 'all' | 'api' | 'worker';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  jwtSecret: string | undefined;
  jwtTtlSeconds: number;
  encryptionKey: string | undefined;
  role: Role;
  logLevel: string;
  validateResponses: boolean;
  /** Whether the hot operations take the fast lane (http/fast-lane.ts) instead of express-openapi-validator. */
  fastLane: boolean;
  /** Whether a start whose entry node may run in memory runs it before the start is written, and is written with it (engine/starter.ts). */
  inlineStarts: boolean;
  /** At most this many steps that only compute run in memory one after another and commit together (1: each its own). */
  stepsInMemory: number;
  dbPoolMax: number;
  workerConcurrency: number;
  leaseMs: number;
  maxStepsPerExecution: number;
  httpAllow: string[];
  loginMaxFailures: number;
  loginWindowSeconds: number;
  loginLockSeconds: number;
  wsMaxPerAccount: number;
  /** Calls a minute the callback URL takes per token and per client address (then 429). */
  callbackRatePerToken: number;
  callbackRatePerIp: number;
  /** The longest a run-and-wait or long poll holds its response, in seconds (MAX_WAIT_SECONDS at most). */
  maxWaitSeconds: number;
  /** How many requests of this process may wait for executions at once; more answer at once. */
  maxWaitingRequests: number;
  /** Express's `trust proxy`: whether (and from whom) `X-Forwarded-For` is believed for the client address. */
  trustProxy: boolean | number | string[];
  /** Limits of flows' JSONata (templates, transform, condition, switch); see engine/expressions.ts. */
  expressionTimeoutMs: number;
  expressionMaxDepth: number;
  expressionMemoryMb: number;
  expressionProcesses: number;
  /** Trusted OpenID Connect issuers, whose access tokens are accepted next to ours; undefined when none. */
  oidc: OidcConfig | undefined;
  /** Browser sign-in (authorization code + PKCE) at an OpenID Connect issuer; undefined when not configured. */
  signIn: SignInConfig | undefined;
  /** Whether `/docs` and the spec documents need a signed-in browser or credentials (FLOWRUNNER_DOCS_PRIVATE). */
  docsPrivate: boolean;
  /** How often a worker process's firing loop looks for due schedules. */
  schedulerPollMs: number;
  /** The largest file an upload or a saved response may be, in bytes. */
  maxFileBytes: number;
}

export interface OidcConfig {
  /** Issuer identifiers, exactly as the issuers write them in `iss` and in their discovery documents. */
  issuers: string[];
  /** The `aud` a token must carry to be meant for this API. */
  audience: string;
  /** The claim holding the caller's roles (a string or an array of strings); undefined: roles are kept in FlowRunner. */
  rolesClaim: string | undefined;
  /** A role in `rolesClaim` that makes the caller an admin. */
  adminRole: string;
  /** The claim holding the caller's email (read when the account is created). */
  emailClaim: string;
  /** How far `exp` and `nbf` may be off from this server's clock. */
  clockSkewSeconds: number;
  /** The least time between two fetches of an issuer's key set when a token names a key it does not hold. */
  jwksCooldownSeconds: number;
}

/** The console's "Sign in with …": FlowRunner as a client of one trusted issuer. */
export interface SignInConfig {
  /** One of `OidcConfig.issuers` (the first unless FLOWRUNNER_OIDC_SIGN_IN_ISSUER names another). */
  issuer: string;
  /** What the sign-in button says: "Sign in with <name>". */
  name: string;
  clientId: string;
  /** Undefined: a public client (PKCE alone); set: a confidential client (HTTP Basic at the token endpoint). */
  clientSecret: string | undefined;
  /** The scopes asked for; always includes `openid`. */
  scopes: string;
  /** Where browsers reach this server, without a trailing slash (FLOWRUNNER_PUBLIC_URL). */
  publicUrl: string;
  /** `<publicUrl>/api/v1/auth/oidc/callback`, registered at the identity provider. */
  redirectUri: string;
}

export class ConfigError extends Error {}

/** The ceiling of FLOWRUNNER_MAX_WAIT_SECONDS: below the 60 s idle timeouts of common proxies and load balancers. */
/** The default of FLOWRUNNER_STEPS_IN_MEMORY. */
export const STEPS_IN_MEMORY = 16;

export const MAX_WAIT_SECONDS = 30;

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

function oneOf<T extends string>(env: Env, name: string, def: T, values: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!values.includes(raw as T)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** `false` (default), `true`, a hop count, or a comma-separated list of proxy addresses/subnets. */
function trustProxy(env: Env): boolean | number | string[] {
  const raw = optional(env, 'FLOWRUNNER_TRUST_PROXY');
  if (raw === undefined || ['false', '0', 'no'].includes(raw)) return false;
  if (['true', 'yes'].includes(raw)) return true;
  if (/^\d+$/.test(raw)) return int(env, 'FLOWRUNNER_TRUST_PROXY', 0, 0, 100);
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (
    list.length === 0 ||
    list.some((a) => !/^[0-9A-Fa-f.:]+(\/\d{1,3})?$|^(loopback|linklocal|uniquelocal)$/.test(a))
  ) {
    throw new ConfigError(
      `FLOWRUNNER_TRUST_PROXY must be true, false, a hop count or a comma-separated list of addresses, got "${raw}"`,
    );
  }
  return list;
}

/** Loopback http is for development and tests; anything else must be https. */
function issuerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`FLOWRUNNER_OIDC_ISSUER must list URLs, got "${raw}"`);
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(`FLOWRUNNER_OIDC_ISSUER must be https:// (http:// only on loopback), got "${raw}"`);
  }
  if (url.search || url.hash) throw new ConfigError(`FLOWRUNNER_OIDC_ISSUER has no query or fragment, got "${raw}"`);
  return raw;
}

function oidc(env: Env): OidcConfig | undefined {
  const raw = optional(env, 'FLOWRUNNER_OIDC_ISSUER');
  if (raw === undefined) return undefined;
  const issuers = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(issuerUrl);
  if (issuers.length === 0) throw new ConfigError('FLOWRUNNER_OIDC_ISSUER must list at least one issuer URL');
  const audience = optional(env, 'FLOWRUNNER_OIDC_AUDIENCE');
  if (audience === undefined) {
    throw new ConfigError(
      'FLOWRUNNER_OIDC_AUDIENCE is required with FLOWRUNNER_OIDC_ISSUER (the API identifier tokens are issued for)',
    );
  }
  return {
    issuers,
    audience,
    rolesClaim: optional(env, 'FLOWRUNNER_OIDC_ROLES_CLAIM'),
    adminRole: optional(env, 'FLOWRUNNER_OIDC_ADMIN_ROLE') ?? 'admin',
    emailClaim: optional(env, 'FLOWRUNNER_OIDC_EMAIL_CLAIM') ?? 'email',
    clockSkewSeconds: int(env, 'FLOWRUNNER_OIDC_CLOCK_SKEW_SECONDS', 30, 0, 300),
    jwksCooldownSeconds: int(env, 'FLOWRUNNER_OIDC_JWKS_COOLDOWN_SECONDS', 30, 0, 3600),
  };
}

/** The public base URL: http(s), no query or fragment, no trailing slash. */
function publicUrl(env: Env): string | undefined {
  const raw = optional(env, 'FLOWRUNNER_PUBLIC_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`FLOWRUNNER_PUBLIC_URL must be a URL, got "${raw}"`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username) {
    throw new ConfigError(`FLOWRUNNER_PUBLIC_URL must be an http(s) URL without query or fragment, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

function signIn(env: Env, trusted: OidcConfig | undefined): SignInConfig | undefined {
  const clientId = optional(env, 'FLOWRUNNER_OIDC_CLIENT_ID');
  if (clientId === undefined) return undefined;
  if (trusted === undefined) {
    throw new ConfigError('FLOWRUNNER_OIDC_CLIENT_ID needs FLOWRUNNER_OIDC_ISSUER (the issuer people sign in at)');
  }
  const issuer = optional(env, 'FLOWRUNNER_OIDC_SIGN_IN_ISSUER') ?? trusted.issuers[0];
  if (!trusted.issuers.includes(issuer)) {
    throw new ConfigError(`FLOWRUNNER_OIDC_SIGN_IN_ISSUER must be one of FLOWRUNNER_OIDC_ISSUER, got "${issuer}"`);
  }
  const base = publicUrl(env);
  if (base === undefined) {
    throw new ConfigError(
      'FLOWRUNNER_PUBLIC_URL is required with FLOWRUNNER_OIDC_CLIENT_ID (the redirect URI is derived from it)',
    );
  }
  const scopes = new Set(
    (optional(env, 'FLOWRUNNER_OIDC_SCOPES') ?? 'openid email profile').split(/\s+/).filter(Boolean),
  );
  scopes.add('openid');
  return {
    issuer,
    name: optional(env, 'FLOWRUNNER_OIDC_NAME') ?? new URL(issuer).host,
    clientId,
    clientSecret: optional(env, 'FLOWRUNNER_OIDC_CLIENT_SECRET'),
    scopes: [...scopes].join(' '),
    publicUrl: base,
    redirectUri: `${base}/api/v1/auth/oidc/callback`,
  };
}

export function parseConfig(env: Env = process.env): Config {
  const databaseUrl = optional(env, 'DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL, got "${databaseUrl}"`);
  }
  const jwtSecret = optional(env, 'FLOWRUNNER_JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError('FLOWRUNNER_JWT_SECRET must be at least 32 characters');
  }
  const encryptionKey = optional(env, 'FLOWRUNNER_ENCRYPTION_KEY');
  if (encryptionKey !== undefined && Buffer.from(encryptionKey, 'base64').length !== 32) {
    throw new ConfigError('FLOWRUNNER_ENCRYPTION_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)');
  }
  const adminPassword = optional(env, 'FLOWRUNNER_ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('FLOWRUNNER_ADMIN_PASSWORD must be at least 8 characters');
  }
  const trustedIssuers = oidc(env);
  const signInConfig = signIn(env, trustedIssuers);
  const docsPrivate = bool(env, 'FLOWRUNNER_DOCS_PRIVATE', false);
  if (docsPrivate && signInConfig === undefined) {
    throw new ConfigError('FLOWRUNNER_DOCS_PRIVATE needs browser sign-in (FLOWRUNNER_OIDC_CLIENT_ID and its settings)');
  }
  const logLevel = oneOf(env, 'LOG_LEVEL', 'info', [
    'fatal',
    'error',
    'warn',
    'info',
    'debug',
    'trace',
    'silent',
  ] as const);
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: optional(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    dataDir: path.resolve(optional(env, 'FLOWRUNNER_DATA_DIR') ?? '.flowrunner'),
    adminEmail: optional(env, 'FLOWRUNNER_ADMIN_EMAIL')?.toLowerCase(),
    adminPassword,
    jwtSecret,
    jwtTtlSeconds: int(env, 'FLOWRUNNER_JWT_TTL_SECONDS', 3600, 60, 30 * 24 * 3600),
    encryptionKey,
    role: oneOf(env, 'FLOWRUNNER_ROLE', 'all', ['all', 'api', 'worker'] as const),
    logLevel,
    validateResponses: bool(env, 'FLOWRUNNER_VALIDATE_RESPONSES', false),
    fastLane: bool(env, 'FLOWRUNNER_FAST_LANE', true),
    inlineStarts: bool(env, 'FLOWRUNNER_INLINE_STARTS', true),
    stepsInMemory: int(env, 'FLOWRUNNER_STEPS_IN_MEMORY', STEPS_IN_MEMORY, 1, 100),
    dbPoolMax: int(env, 'FLOWRUNNER_DB_POOL_MAX', 10, 2, 200),
    workerConcurrency: int(env, 'FLOWRUNNER_WORKER_CONCURRENCY', 8, 1, 256),
    leaseMs: int(env, 'FLOWRUNNER_LEASE_MS', 30_000, 1000, 3_600_000),
    maxStepsPerExecution: int(env, 'FLOWRUNNER_MAX_STEPS', 10_000, 1, 1_000_000),
    httpAllow: (optional(env, 'FLOWRUNNER_HTTP_ALLOW') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    loginMaxFailures: int(env, 'FLOWRUNNER_LOGIN_MAX_FAILURES', 5, 1, 1000),
    loginWindowSeconds: int(env, 'FLOWRUNNER_LOGIN_WINDOW_SECONDS', 900, 1, 86_400),
    loginLockSeconds: int(env, 'FLOWRUNNER_LOGIN_LOCK_SECONDS', 30, 1, 86_400),
    wsMaxPerAccount: int(env, 'FLOWRUNNER_WS_MAX_PER_ACCOUNT', 100, 1, 100_000),
    callbackRatePerToken: int(env, 'FLOWRUNNER_CALLBACK_RATE_PER_TOKEN', 10, 1, 1_000_000),
    callbackRatePerIp: int(env, 'FLOWRUNNER_CALLBACK_RATE_PER_IP', 120, 1, 1_000_000),
    maxWaitSeconds: int(env, 'FLOWRUNNER_MAX_WAIT_SECONDS', 25, 0, MAX_WAIT_SECONDS),
    maxWaitingRequests: int(env, 'FLOWRUNNER_MAX_WAITING_REQUESTS', 10_000, 0, 1_000_000),
    trustProxy: trustProxy(env),
    expressionTimeoutMs: int(env, 'FLOWRUNNER_EXPRESSION_TIMEOUT_MS', 1000, 10, 600_000),
    expressionMaxDepth: int(env, 'FLOWRUNNER_EXPRESSION_MAX_DEPTH', 10_000, 100, 1_000_000),
    expressionMemoryMb: int(env, 'FLOWRUNNER_EXPRESSION_MEMORY_MB', 128, 16, 16_384),
    expressionProcesses: int(env, 'FLOWRUNNER_EXPRESSION_PROCESSES', 2, 1, 64),
    oidc: trustedIssuers,
    signIn: signInConfig,
    docsPrivate,
    schedulerPollMs: int(env, 'FLOWRUNNER_SCHEDULER_POLL_MS', 1000, 50, 60_000),
    maxFileBytes: int(env, 'FLOWRUNNER_MAX_FILE_BYTES', 100 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
  };
}

let cached: Config | undefined;

/** The process's config, parsed on first use. */
export function config(): Config {
  cached ??= parseConfig();
  return cached;
}
