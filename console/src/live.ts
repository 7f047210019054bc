/**
 * Typed live updates over the WebSocket API. One execution: the client's followExecution (replay,
 * then live, resuming by seq). Every execution the caller may see: `watchExecutions` on
 * /ws/executions, reconnecting with a backoff until stopped. The token goes as the `bearer.<token>`
 * subprotocol, which browsers can send (never in the URL).
 */
import type { ExecutionEvent, FlowRunnerClient } from '@flowrunner/client';
import { baseUrl } from './session';

export type EventHandler = (event: ExecutionEvent) => void;

/** Follows one execution; returns a function that stops following. */
export function followExecution(client: FlowRunnerClient, executionId: string, onEvent: EventHandler): () => void {
  const controller = new AbortController();
  client.followExecution(executionId, { onEvent, signal: controller.signal }).catch(() => undefined);
  return () => controller.abort();
}

/** Every execution's events, live; returns a function that stops. */
export function watchExecutions(token: string, onEvent: EventHandler): () => void {
  let stopped = false;
  let socket: WebSocket | null = null;
  let failures = 0;
  const url = `${baseUrl().replace(/^http/, 'ws')}/ws/executions`;
  const connect = () => {
    if (stopped) return;
    socket = new WebSocket(url, [`bearer.${token}`]);
    socket.addEventListener('open', () => {
      failures = 0;
    });
    socket.addEventListener('message', (message: MessageEvent<string>) => {
      onEvent(JSON.parse(message.data) as ExecutionEvent);
    });
    socket.addEventListener('close', () => {
      if (stopped) return;
      failures++;
      setTimeout(connect, Math.min(500 * 2 ** (failures - 1), 10_000));
    });
  };
  connect();
  return () => {
    stopped = true;
    socket?.close(1000);
  };
}

/** One execution's events, followed once and shared by the parts of a page. */
export class EventFeed {
  readonly #listeners = new Set<EventHandler>();
  subscribe(listener: EventHandler): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(event: ExecutionEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
