/**
 * Follow an execution over the WebSocket API: every event from the start (or after `since`), then
 * live ones, resuming after the last `seq` seen when the connection drops. Resolves with the final
 * event (`execution_completed` or `execution_failed`). Authenticates with a token (the
 * `bearer.<token>` subprotocol, which browsers can send) or an API key (the `X-API-Key` header:
 * Node's `ws` package and Node 22's WebSocket can send it, browsers cannot). When a connection
 * fails before its first event, the execution is read over HTTP with the same credentials: a 401,
 * 403 or 404 ends the follow at once with that FlowRunnerError instead of reconnecting.
 */
import { ExecutionsApi } from './api/executions-api.js';
import { Configuration } from './configuration.js';
import { FlowRunnerError } from './errors.js';
import { createTransport } from './transport.js';
import type { ExecutionEvent } from './model/index.js';

/** The standard WebSocket interface: a browser's, Node 22's global, or the `ws` package's. */
export interface WebSocketLike {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  close(code?: number): void;
}

/**
 * `new WebSocket(url, protocols)`, or `new WebSocket(url, { headers })` to send an API key: the
 * `ws` package and Node 22's WebSocket (undici) read headers from that second argument.
 */
export type WebSocketConstructor = new (
  url: string,
  protocolsOrOptions?: string | string[] | { headers: Record<string, string> },
) => WebSocketLike;

export type FinalEvent = Extract<ExecutionEvent, { type: 'execution_completed' | 'execution_failed' }>;

export interface FollowOptions {
  /** The API's base URL, e.g. http://localhost:8080. */
  baseUrl: string;
  executionId: string;
  /** A bearer token… */
  token?: string;
  /** …or an API key… */
  apiKey?: string;
  /** …or a function that returns the current token. */
  getToken?: () => string | Promise<string>;
  /** Only events after this seq. */
  since?: number;
  onEvent?: (event: ExecutionEvent) => void;
  /** Default: globalThis.WebSocket; on Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Reconnections allowed in a row without receiving anything (default 10). */
  maxReconnects?: number;
  signal?: AbortSignal;
}

const FINAL = new Set(['execution_completed', 'execution_failed']);
const FATAL = new Set([401, 403, 404]);

function isFinal(event: ExecutionEvent): event is FinalEvent {
  return FINAL.has(event.type);
}

/** Reads the execution over HTTP: a FlowRunnerError that says following cannot work, or null. */
async function fatalReason(options: FollowOptions): Promise<FlowRunnerError | null> {
  const { token, apiKey, getToken } = options;
  const configuration = new Configuration({
    basePath: options.baseUrl.replace(/\/$/, ''),
    ...(getToken ? { accessToken: async () => getToken() } : token ? { accessToken: () => token } : {}),
    ...(apiKey ? { apiKey: () => apiKey } : {}),
  });
  try {
    await new ExecutionsApi(configuration, undefined, createTransport({}, { maxRetries: 0 })).getExecution({
      id: options.executionId,
    });
    return null;
  } catch (err) {
    return err instanceof FlowRunnerError && FATAL.has(err.status) ? err : null;
  }
}

export function followExecution(options: FollowOptions): Promise<FinalEvent> {
  const Ctor = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) return Promise.reject(new Error('No WebSocket implementation: pass options.WebSocket'));
  const base = options.baseUrl.replace(/^http/, 'ws').replace(/\/$/, '');
  let lastSeq = options.since ?? 0;
  let failures = 0;
  return new Promise<FinalEvent>((resolve, reject) => {
    let finished = false;
    const finish = (fn: () => void) => {
      if (finished) return;
      finished = true;
      fn();
    };
    const connect = async () => {
      if (finished) return;
      if (options.signal?.aborted) {
        return finish(() =>
          reject(new FlowRunnerError({ status: 0, code: 'aborted', message: 'Following was aborted' })),
        );
      }
      const token = options.getToken ? await options.getToken() : options.token;
      const url = `${base}/ws/executions/${encodeURIComponent(options.executionId)}?since=${lastSeq}`;
      const ws = options.apiKey
        ? new Ctor(url, { headers: { 'X-API-Key': options.apiKey } })
        : new Ctor(url, token ? [`bearer.${token}`] : []);
      let received = 0;
      options.signal?.addEventListener('abort', () => ws.close(1000), { once: true });
      ws.addEventListener('message', (message) => {
        const event = JSON.parse(String(message.data)) as ExecutionEvent;
        received++;
        if (event.seq <= lastSeq) return; // already seen before a reconnect
        lastSeq = event.seq;
        failures = 0;
        options.onEvent?.(event);
        if (isFinal(event)) finish(() => resolve(event));
      });
      ws.addEventListener('error', () => undefined);
      ws.addEventListener('close', () => {
        if (finished) return;
        failures++;
        void (async () => {
          const fatal = received === 0 ? await fatalReason(options) : null;
          if (fatal) return finish(() => reject(fatal));
          if (failures > (options.maxReconnects ?? 10)) {
            const message = `Lost the connection to execution ${options.executionId} ${failures} times in a row`;
            return finish(() => reject(new FlowRunnerError({ status: 0, code: 'network_error', message })));
          }
          setTimeout(
            () => void connect().catch((err) => finish(() => reject(err))),
            Math.min(250 * 2 ** (failures - 1), 10_000),
          );
        })();
      });
    };
    connect().catch((err) => finish(() => reject(err)));
  });
}
