/** A real HTTP server on loopback that flows call; each test programs its routes. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

export interface Target {
  url: string;
  port: number;
  hits: { method: string; path: string; headers: http.IncomingHttpHeaders; body: string }[];
  /** Connections closed before the response was sent (an aborted call). */
  aborted: number;
  route(path: string, handler: Route): void;
  close(): Promise<void>;
}

export async function startTarget(): Promise<Target> {
  const routes = new Map<string, Route>();
  const target: Target = {
    url: '',
    port: 0,
    hits: [],
    aborted: 0,
    route: (path, handler) => routes.set(path, handler),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      target.hits.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      res.on('close', () => {
        if (!res.writableFinished) target.aborted++;
      });
      const handler = routes.get(path);
      if (!handler) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no route"}');
        return;
      }
      handler(req, body, res);
    });
  });
  // Idle keep-alive connections stay open as long as a test may run. With Node's default (close
  // after 5 s idle, announced so clients stop reusing after 4 s), a process starved of CPU for over a
  // second reuses a connection the target has just closed, and the step fails with ECONNRESET.
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.port = (server.address() as AddressInfo).port;
  target.url = `http://127.0.0.1:${target.port}`;
  return target;
}

export const json =
  (status: number, value: unknown): Route =>
  (_req, _body, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };
