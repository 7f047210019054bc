/** What http.request and webhook share: the call through the guard and the status check. */
import { OutboundHttpError, type OutboundRequest } from '../http-guard';
import { retryAfterMs } from '../rate-limit';
import { NodeError, type NodeContext, type NodeResult } from './types';

export function statusMatches(status: number, expect: unknown): boolean {
  const patterns = expect === undefined ? ['2xx'] : Array.isArray(expect) ? expect : [expect];
  return patterns.some((p) => {
    if (typeof p === 'number') return p === status;
    const s = String(p);
    return s.endsWith('xx') ? Math.floor(status / 100) === Number(s[0]) : Number(s) === status;
  });
}

async function send(ctx: NodeContext, req: Omit<OutboundRequest, 'signal'>) {
  try {
    return await ctx.http.request({ ...req, signal: ctx.signal });
  } catch (err) {
    if (err instanceof OutboundHttpError) throw new NodeError(err.message, err.retryable);
    throw err;
  }
}

/**
 * Sends the request (with the credentials of `connection`, when one is named) and checks its
 * status. A 401 to a request with an OAuth2 token fetches a new token and sends it once more.
 */
export async function callHttp(
  ctx: NodeContext,
  req: Omit<OutboundRequest, 'signal'>,
  expectStatus?: unknown,
  connection?: string,
): Promise<NodeResult> {
  let res;
  if (connection === undefined) res = await send(ctx, req);
  else {
    const first = await ctx.engine.authorize(connection, req, false);
    res = await send(ctx, first.request);
    if (res.status_code === 401 && first.refreshable) {
      ctx.log('info', `The target answered 401; fetching a new token for connection "${connection}"`);
      res = await send(ctx, (await ctx.engine.authorize(connection, req, true)).request);
    }
  }
  // A response saved as a file: the body is that file's reference (or null when the status failed).
  const output = req.saveBody
    ? { status_code: res.status_code, headers: res.headers, body: null, file: res.body ?? null }
    : { status_code: res.status_code, headers: res.headers, body: res.body };
  if (!statusMatches(res.status_code, expectStatus)) {
    // 429 Too Many Requests is retried like a 5xx, after at least its Retry-After (rate-limit.ts).
    const tooMany = res.status_code === 429;
    throw Object.assign(
      new NodeError(`HTTP request failed with status ${res.status_code}`, res.status_code >= 500 || tooMany),
      { output, ...(tooMany ? { retryAfterMs: retryAfterMs(res.headers) } : {}) },
    );
  }
  ctx.log('info', 'HTTP request successful', { status_code: res.status_code, url: req.url });
  return { output };
}

export function withQuery(url: string, query: Record<string, unknown> | undefined): string {
  if (!query || Object.keys(query).length === 0) return url;
  try {
    const u = new URL(url);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v));
    return u.toString();
  } catch {
    return url; // the guard explains a bad URL
  }
}
