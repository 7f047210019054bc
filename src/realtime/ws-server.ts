/**
 * The WebSocket API on the HTTP server: `/ws/executions/{execution_id}` (one execution: every
 * earlier event, then live ones; `?since=<seq>` resumes) and `/ws/executions` (every execution the
 * caller may see, live). Authenticated like HTTP — headers, or `access_token` / a `bearer.<token>`
 * subprotocol from browsers — and refused with an HTTP status before any socket opens.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventRow } from '../db/tables';
import { isDatabaseUnavailable } from '../db/errors';
import { AppError } from '../errors';
import { toEvent } from '../presenters/executions.presenter';
import type { Logger } from '../log';
import type { Services } from '../services';
import type { Actor } from '../services/actor';
import { canSeeOrganization } from '../services/ownership';
import type { EventHub } from './hub';

const FINAL_TYPES = new Set(['execution_completed', 'execution_failed']);
export const MAX_BUFFERED_BYTES = 1024 * 1024;
const PING_MS = 30_000;

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message, details: null } });
  const reason =
    { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[
      status
    ] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The token from `Authorization`, `access_token` or a `bearer.<token>` subprotocol; or the API key. */
function credentials(req: http.IncomingMessage, url: URL): { authorization?: string; apiKey?: string } {
  if (req.headers.authorization) return { authorization: req.headers.authorization };
  if (typeof req.headers['x-api-key'] === 'string') return { apiKey: req.headers['x-api-key'] };
  const query = url.searchParams.get('access_token');
  if (query) return { authorization: `Bearer ${query}` };
  const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  const bearer = protocols.find((p) => p.startsWith('bearer.'));
  if (bearer) return { authorization: `Bearer ${bearer.slice('bearer.'.length)}` };
  return {};
}

export class ExecutionSockets {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024,
    // Echo the bearer subprotocol back, as browsers require, without ever choosing another.
    handleProtocols: (protocols) => [...protocols].find((p) => p.startsWith('bearer.')) ?? false,
  });
  private readonly perAccount = new Map<string, number>();
  private readonly pinger: NodeJS.Timeout;
  private readonly alive = new WeakMap<WebSocket, boolean>();

  constructor(
    private readonly services: Services,
    private readonly hub: EventHub,
    private readonly log: Logger,
  ) {
    this.pinger = setInterval(() => {
      for (const ws of this.wss.clients) {
        if (this.alive.get(ws) === false) {
          ws.terminate();
          continue;
        }
        this.alive.set(ws, false);
        ws.ping();
      }
    }, PING_MS);
    this.pinger.unref();
  }

  attach(server: http.Server): void {
    server.on('upgrade', (req, socket, head) => {
      this.upgrade(req, socket, head).catch((err) => {
        this.log.error({ err }, 'websocket upgrade failed');
        refuse(socket, 503, 'unavailable', 'The service is temporarily unavailable');
      });
    });
  }

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/ws\/executions(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (!match)
      return refuse(socket, 404, 'not_found', 'No WebSocket endpoint here; use /ws/executions/{execution_id}');
    const executionId = match[1] ? decodeURIComponent(match[1]) : undefined;
    const since = Number(url.searchParams.get('since') ?? '0');
    if (!Number.isInteger(since) || since < 0)
      return refuse(socket, 400, 'invalid_request', 'since must be a non-negative integer');

    let actor: Actor;
    try {
      const c = credentials(req, url);
      actor = await this.services.auth.authenticate(c.authorization, c.apiKey);
      if (executionId) await this.services.executions.get(actor, executionId);
    } catch (err) {
      if (err instanceof AppError) return refuse(socket, err.status, err.code, err.message);
      if (isDatabaseUnavailable(err))
        return refuse(socket, 503, 'unavailable', 'The service is temporarily unavailable');
      throw err;
    }
    const open = this.perAccount.get(actor.accountId) ?? 0;
    const cap = this.services.config.wsMaxPerAccount;
    if (open >= cap)
      return refuse(
        socket,
        429,
        'rate_limited',
        `At most ${cap} WebSocket connections per account (FLOWRUNNER_WS_MAX_PER_ACCOUNT)`,
      );

    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.perAccount.set(actor.accountId, open + 1);
      this.alive.set(ws, true);
      ws.on('pong', () => this.alive.set(ws, true));
      let unsubscribe = () => {};
      const state = { closed: false };
      const send = (rows: EventRow[]) => {
        for (const row of rows) {
          if (state.closed) return;
          // A consumer that does not keep up is closed rather than buffered without bound.
          if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
            state.closed = true;
            ws.close(1013, 'consumer too slow; reconnect with ?since=<last seq>');
            return;
          }
          ws.send(JSON.stringify(toEvent(row)));
          // A retried execution goes on after the end it had: close only at an end nothing follows.
          if (executionId && FINAL_TYPES.has(row.type) && row === rows[rows.length - 1]) {
            state.closed = true;
            ws.close(1000, 'execution finished');
            return;
          }
        }
      };
      if (executionId) {
        const sub = {
          executionId,
          lastSeq: since,
          deliver: send,
          get closed() {
            return state.closed;
          },
        };
        unsubscribe = this.hub.subscribe(sub);
      } else {
        const sub = {
          accountId: actor.accountId,
          canSee: (organizationId: string) => canSeeOrganization(actor, organizationId),
          deliver: send,
          seqs: new Map<string, number>(),
          get closed() {
            return state.closed;
          },
        };
        unsubscribe = this.hub.subscribeAccountWide(sub);
      }
      ws.on('close', () => {
        state.closed = true;
        unsubscribe();
        this.perAccount.set(actor.accountId, (this.perAccount.get(actor.accountId) ?? 1) - 1);
      });
      ws.on('message', () => {
        // Clients have nothing to say beyond pings; ignore anything else.
      });
    });
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const ws of this.wss.clients) ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
