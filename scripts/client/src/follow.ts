/**
 * Follow an execution over the WebSocket API: every event from the start (or after `since`),
 * then live ones, resuming where it left off when the connection drops. Resolves with the final
 * event (`execution_completed` or `execution_failed`).
 *
 * Copied into the generated client by `npm run generate` (hand-written, in scripts/client/src).
 */
import type { ExecutionEvent } from './model/index.js';

/** The standard WebSocket interface: a browser's, Node 22's global, or the `ws` package's. */
export interface WebSocketLike {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  close(code?: number): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface FollowOptions {
  /** The API's base URL, e.g. http://localhost:8080. */
  basePath: string;
  executionId: string;
  /** A bearer token (sent as the `bearer.<token>` subprotocol, which browsers can set). */
  token: string;
  /** Only events after this seq. */
  since?: number;
  onEvent?: (event: ExecutionEvent) => void;
  /** Default: globalThis.WebSocket; in older Node pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Reconnections allowed in a row without receiving anything (default 10). */
  maxReconnects?: number;
  signal?: AbortSignal;
}

const FINAL = new Set(['execution_completed', 'execution_failed']);

export function followExecution(options: FollowOptions): Promise<ExecutionEvent> {
  const Ctor = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor) return Promise.reject(new Error('No WebSocket implementation: pass options.WebSocket'));
  const base = options.basePath.replace(/^http/, 'ws').replace(/\/$/, '');
  let lastSeq = options.since ?? 0;
  let failures = 0;
  return new Promise<ExecutionEvent>((resolve, reject) => {
    let finished = false;
    const connect = () => {
      if (finished) return;
      if (options.signal?.aborted) return reject(new Error('aborted'));
      const ws = new Ctor(`${base}/ws/executions/${encodeURIComponent(options.executionId)}?since=${lastSeq}`, [
        `bearer.${options.token}`,
      ]);
      options.signal?.addEventListener('abort', () => ws.close(1000), { once: true });
      ws.addEventListener('message', (message) => {
        const event = JSON.parse(String(message.data)) as ExecutionEvent;
        if (event.seq <= lastSeq) return; // already seen before a reconnect
        lastSeq = event.seq;
        failures = 0;
        options.onEvent?.(event);
        if (FINAL.has(event.type)) {
          finished = true;
          resolve(event);
        }
      });
      ws.addEventListener('error', () => undefined);
      ws.addEventListener('close', () => {
        if (finished) return;
        failures++;
        if (failures > (options.maxReconnects ?? 10)) {
          finished = true;
          reject(new Error(`lost the connection to execution ${options.executionId} ${failures} times in a row`));
          return;
        }
        setTimeout(connect, Math.min(250 * 2 ** (failures - 1), 10_000));
      });
    };
    connect();
  });
}
