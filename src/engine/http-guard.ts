/**
 * The one way the engine makes HTTP requests (http.request, webhook, listeners). Loopback,
 * private, link-local, metadata, unique-local and unspecified addresses are refused after DNS
 * resolution (request-filtering-agent checks the address actually connected to, in any notation)
 * and on every redirect hop, unless FLOWRUNNER_HTTP_ALLOW names the host or its network.
 * Redirects are followed here, hop by hop: a hop to another origin (scheme, host, port) drops
 * Authorization, Cookie and Proxy-Authorization. Bodies stream and are cut off at the cap, so no
 * more than the cap is held.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Readable } from 'node:stream';
import axios, { type AxiosError, type AxiosResponse } from 'axios';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

export const MAX_REDIRECTS = 5;

export class OutboundHttpError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

export interface OutboundRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal;
  /** A body streamed instead of `body` (a file's bytes), opened anew for each hop that sends it. */
  bodyStream?: { open(): Readable; length: number };
  /**
   * Takes the final response's body as a stream instead of reading it into memory (a response saved
   * as a file; it stores as many bytes as it allows); what it returns becomes `body`.
   */
  saveBody?: (stream: Readable, res: { status_code: number; headers: Record<string, string> }) => Promise<unknown>;
}

export interface OutboundResponse {
  status_code: number;
  headers: Record<string, string>;
  body: unknown;
  url: string;
}

function isIpOrCidr(entry: string): boolean {
  const [addr, bits] = entry.split('/');
  return net.isIP(addr) !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits));
}

export class HttpGuard {
  private readonly allowedHosts: Set<string>;
  private readonly guarded: { http: http.Agent; https: https.Agent };
  private readonly open: { http: http.Agent; https: https.Agent };

  constructor(allow: string[]) {
    const cidrs = allow.filter(isIpOrCidr);
    this.allowedHosts = new Set(allow.filter((a) => !isIpOrCidr(a)).map((h) => h.toLowerCase()));
    const options = { keepAlive: true, allowIPAddressList: cidrs };
    this.guarded = { http: new RequestFilteringHttpAgent(options), https: new RequestFilteringHttpsAgent(options) };
    this.open = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  }

  private agentsFor(url: URL) {
    return this.allowedHosts.has(url.hostname.toLowerCase()) ? this.open : this.guarded;
  }

  async request(req: OutboundRequest): Promise<OutboundResponse> {
    let url = this.parse(req.url);
    let method = req.method.toUpperCase();
    let body = req.body;
    let bodyStream = req.bodyStream;
    let headers = req.headers;
    const deadline = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    for (let hop = 0; ; hop++) {
      const agents = this.agentsFor(url);
      let res: AxiosResponse<Buffer>;
      try {
        res = await axios.request<Buffer>({
          url: url.toString(),
          method,
          headers: bodyStream
            ? { ...headersFor(headers, ''), 'content-length': String(bodyStream.length) }
            : headersFor(headers, body),
          data: bodyStream
            ? bodyStream.open()
            : body === undefined
              ? undefined
              : typeof body === 'string'
                ? body
                : JSON.stringify(body),
          httpAgent: agents.http,
          httpsAgent: agents.https,
          maxRedirects: 0,
          proxy: false,
          // A saved response streams into its file, which has a limit of its own.
          responseType: req.saveBody ? 'stream' : 'arraybuffer',
          maxContentLength: req.saveBody ? -1 : req.maxResponseBytes,
          maxBodyLength: bodyStream ? Infinity : 10 * 1024 * 1024,
          validateStatus: () => true,
          signal,
          decompress: true,
        });
      } catch (err) {
        throw this.explain(err, url, req, deadline.aborted);
      }
      const location = res.headers.location as string | undefined;
      const redirected = res.status >= 300 && res.status < 400 && location;
      if (req.saveBody && redirected) (res.data as unknown as Readable).destroy();
      if (redirected) {
        if (hop >= MAX_REDIRECTS)
          throw new OutboundHttpError(`too many redirects (more than ${MAX_REDIRECTS}) from ${req.url}`, false);
        const next = this.parse(new URL(location, url).toString());
        // Like a browser: credentials meant for one origin never reach another.
        if (next.origin !== url.origin) headers = withoutCredentials(headers);
        url = next;
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          bodyStream = undefined;
        }
        continue;
      }
      const status_code = res.status;
      const responseHeaders = flatHeaders(res.headers);
      if (req.saveBody) {
        try {
          const saved = await req.saveBody(res.data as unknown as Readable, { status_code, headers: responseHeaders });
          return { status_code, headers: responseHeaders, body: saved, url: url.toString() };
        } catch (err) {
          if (req.signal?.aborted) throw new OutboundHttpError('request aborted: the execution was cancelled', false);
          if (deadline.aborted)
            throw new OutboundHttpError(`request to ${url.host} timed out after ${req.timeoutMs} ms`, true);
          throw err;
        }
      }
      return { status_code, headers: responseHeaders, body: decodeBody(res), url: url.toString() };
    }
  }

  private parse(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundHttpError(`"${raw}" is not a valid URL`, false);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new OutboundHttpError(`only http and https URLs are allowed, not ${url.protocol}`, false);
    return url;
  }

  private explain(err: unknown, url: URL, req: OutboundRequest, timedOut: boolean): OutboundHttpError {
    const e = err as AxiosError & { cause?: Error };
    const message = `${e.message ?? ''} ${e.cause?.message ?? ''}`;
    if (/is not allowed|private IP|meta IP|denied IP|not allowed/i.test(message)) {
      return new OutboundHttpError(
        `request to ${url.hostname} refused: it resolves to a loopback, private, link-local or reserved address (${message.trim().replace(/\s+/g, ' ')}); allow it with FLOWRUNNER_HTTP_ALLOW`,
        false,
      );
    }
    if (req.signal?.aborted) return new OutboundHttpError('request aborted: the execution was cancelled', false);
    if (timedOut) return new OutboundHttpError(`request to ${url.host} timed out after ${req.timeoutMs} ms`, true);
    if (e.code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(message)) {
      return new OutboundHttpError(`response from ${url.host} is larger than ${req.maxResponseBytes} bytes`, false);
    }
    return new OutboundHttpError(
      `request to ${url.host} failed: ${e.code ?? ''} ${e.message ?? 'network error'}`.replace(/\s+/g, ' '),
      true,
    );
  }

  close(): void {
    for (const a of [this.guarded.http, this.guarded.https, this.open.http, this.open.https]) a.destroy();
  }
}

const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function withoutCredentials(given: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!given) return given;
  return Object.fromEntries(Object.entries(given).filter(([h]) => !CREDENTIAL_HEADERS.has(h.toLowerCase())));
}

function headersFor(given: Record<string, string> | undefined, body: unknown): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'FlowRunner', ...given };
  const hasType = Object.keys(given ?? {}).some((h) => h.toLowerCase() === 'content-type');
  if (body !== undefined && !hasType)
    headers['content-type'] = typeof body === 'string' ? 'text/plain' : 'application/json';
  return headers;
}

function flatHeaders(h: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h))
    if (v !== undefined && v !== null) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

function decodeBody(res: AxiosResponse<Buffer>): unknown {
  const buf = Buffer.from(res.data ?? []);
  const text = buf.toString('utf8');
  const type = String(res.headers['content-type'] ?? '');
  if (/[/+]json\b/i.test(type)) {
    try {
      return text.length === 0 ? null : JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
