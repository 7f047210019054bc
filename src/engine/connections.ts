/**
 * Connections at run time: puts a connection's credentials on an outbound request, and for OAuth2
 * client credentials fetches the access token from the connection's token endpoint (through the
 * same HTTP guard as every request), keeps it in this process until shortly before it expires, and
 * fetches a new one when asked to (a 401 from the target). Tokens are keyed by the connection's
 * version, so a changed connection never uses a token of its old settings. Only tokens live here:
 * the connection itself is read for every step.
 */
import { OutboundHttpError, type HttpGuard, type OutboundRequest } from './http-guard';
import { NodeError } from './nodes/types';
import type { RunConnection, RunConnectionsSource } from './ports';

/**
 * A token is renewed a tenth of its lifetime before it expires, at least a second (its `exp` is
 * whole seconds, so it may end up to a second before `expires_in` says) and at most 30 s.
 */
const RENEW_BEFORE_MS = { min: 1_000, max: 30_000 };
/** When the token endpoint gives no `expires_in`. */
const DEFAULT_LIFETIME_MS = 300_000;
const MAX_TOKENS = 10_000;
const TOKEN_TIMEOUT_MS = 30_000;

interface CachedToken {
  token: string;
  renewAt: number;
}

export interface Authorized {
  request: Omit<OutboundRequest, 'signal'>;
  /** Values to mask in what the step writes (a fetched access token). */
  secrets: string[];
  /** A 401 may be answered by fetching a new token and trying once more. */
  refreshable: boolean;
}

export class ConnectionAuth {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly fetching = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly source: RunConnectionsSource,
    private readonly http: HttpGuard,
  ) {}

  /** The request with the credentials of the organization's connection `name` on it. */
  async authorize(
    organizationId: string,
    name: string,
    req: Omit<OutboundRequest, 'signal'>,
    opts: { refresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<Authorized> {
    const conn = await this.source.resolveConnection(organizationId, name);
    if (!conn) throw new NodeError(`connection "${name}" not found`);
    const headers = withoutAuthorization(req.headers);
    switch (conn.type) {
      case 'api_key': {
        // An API key leaves the request's own Authorization header alone.
        const own = { ...req.headers };
        const where = String(conn.settings.name);
        if (conn.settings.location === 'query') {
          const url = withParam(req.url, where, conn.secrets.value);
          return { request: { ...req, url }, secrets: [], refreshable: false };
        }
        for (const h of Object.keys(own)) if (h.toLowerCase() === where.toLowerCase()) delete own[h];
        own[where] = conn.secrets.value;
        return { request: { ...req, headers: own }, secrets: [], refreshable: false };
      }
      case 'basic': {
        const pair = Buffer.from(`${String(conn.settings.username)}:${conn.secrets.password}`).toString('base64');
        return {
          request: { ...req, headers: { ...headers, Authorization: `Basic ${pair}` } },
          secrets: [],
          refreshable: false,
        };
      }
      case 'bearer':
        return {
          request: { ...req, headers: { ...headers, Authorization: `Bearer ${conn.secrets.token}` } },
          secrets: [],
          refreshable: false,
        };
      case 'oauth2_client_credentials': {
        const token = await this.token(conn, opts.refresh === true, opts.signal);
        return {
          request: { ...req, headers: { ...headers, Authorization: `Bearer ${token}` } },
          secrets: [token],
          refreshable: !opts.refresh,
        };
      }
    }
  }

  private async token(conn: RunConnection, refresh: boolean, signal?: AbortSignal): Promise<string> {
    const key = `${conn.id}@${conn.version}`;
    const cached = this.tokens.get(key);
    if (cached && !refresh && Date.now() < cached.renewAt) return cached.token;
    // Steps that need the same token at once wait for one fetch.
    let pending = this.fetching.get(key);
    if (!pending) {
      pending = this.fetchToken(conn, signal).finally(() => this.fetching.delete(key));
      this.fetching.set(key, pending);
    }
    const fresh = await pending;
    if (this.tokens.size >= MAX_TOKENS) this.tokens.clear();
    for (const k of this.tokens.keys()) if (k.startsWith(`${conn.id}@`)) this.tokens.delete(k);
    this.tokens.set(key, fresh);
    return fresh.token;
  }

  private async fetchToken(conn: RunConnection, signal?: AbortSignal): Promise<CachedToken> {
    const s = conn.settings;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    for (const field of ['scope', 'audience', 'resource'])
      if (typeof s[field] === 'string' && s[field] !== '') form.set(field, s[field] as string);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    const clientId = String(s.client_id);
    if (s.client_auth === 'body') {
      form.set('client_id', clientId);
      form.set('client_secret', conn.secrets.client_secret);
    } else {
      // RFC 6749 §2.3.1: both parts form-encoded before they are joined.
      const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(conn.secrets.client_secret)}`).toString('base64')}`;
    }
    const what = `connection "${conn.name}": the token endpoint`;
    const sentAt = Date.now();
    let res;
    try {
      res = await this.http.request({
        method: 'POST',
        url: String(s.token_url),
        headers,
        body: form.toString(),
        timeoutMs: TOKEN_TIMEOUT_MS,
        maxResponseBytes: 1_048_576,
        signal,
      });
    } catch (err) {
      if (err instanceof OutboundHttpError)
        throw new NodeError(`${what} could not be reached: ${err.message}`, err.retryable);
      throw err;
    }
    const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<string, unknown>;
    if (res.status_code !== 200 || typeof body.access_token !== 'string' || body.access_token === '') {
      const reason = [body.error, body.error_description].filter((v) => typeof v === 'string').join(': ');
      const refused = res.status_code === 400 || res.status_code === 401;
      throw new NodeError(
        refused
          ? `${what} refused the client credentials (HTTP ${res.status_code}${reason ? `, ${reason}` : ''}); check the connection's client_id and client_secret`
          : `${what} answered HTTP ${res.status_code} without an access_token${reason ? ` (${reason})` : ''}`,
        res.status_code >= 500,
        false,
        { code: 'connection_token_failed', connection: conn.name, status_code: res.status_code },
      );
    }
    const lifetimeMs =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    const before = Math.min(RENEW_BEFORE_MS.max, Math.max(RENEW_BEFORE_MS.min, lifetimeMs / 10));
    // Counted from when the request left: the lifetime started no earlier than that.
    const renewAt = sentAt + (before < lifetimeMs ? lifetimeMs - before : lifetimeMs / 2);
    return { token: body.access_token, renewAt };
  }
}

/** A connection's Authorization replaces one the params set. */
function withoutAuthorization(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

function withParam(url: string, name: string, value: string): string {
  try {
    const u = new URL(url);
    u.searchParams.set(name, value);
    return u.toString();
  } catch {
    return url; // the guard explains a bad URL
  }
}
