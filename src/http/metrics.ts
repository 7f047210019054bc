/**
 * The request observer, one middleware in front of everything: it gives each request its id
 * (`X-Request-Id`, the caller's when well-formed), and when the response is done records its
 * duration in the Prometheus histogram and logs it (at `info`, at `error` for a 5xx).
 *
 * One listener per request does both, and a log line is only built when its level is enabled:
 * pino-http built two child loggers per request whether it logged or not, about a tenth of a
 * start's CPU under load.
 */
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import client from 'prom-client';
import { operationOfRequest } from './spec';

declare module 'express-serve-static-core' {
  interface Request {
    id?: string;
  }
}

/** One registry per process (prom-client refuses to register a metric twice). */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const httpDuration = new client.Histogram({
  name: 'flowrunner_http_request_duration_seconds',
  help: 'HTTP request duration by method, route and status',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

/**
 * The histogram's child per label set, kept: labels are the spec's path templates, its methods
 * and the statuses it answers (any other path is `unknown`, any method the route guard refuses),
 * so the map is bounded by the contract, not by what strangers send.
 */
const series = new Map<string, client.Histogram.Internal<'method' | 'route' | 'status'>>();

function seriesOf(method: string, route: string, status: number) {
  const key = `${method} ${route} ${status}`;
  let s = series.get(key);
  if (!s) series.set(key, (s = httpDuration.labels({ method, route, status: String(status) })));
  return s;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

export function requestObserver(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    // 'close' comes once for every response: after 'finish', or alone when the connection went first.
    res.on('close', () => {
      const seconds = (performance.now() - started) / 1000;
      // Only the spec's path templates (and the meta routes) are labels; any other path shares one.
      const route = operationOfRequest(req)?.op.path ?? 'unknown';
      seriesOf(req.method, route, res.statusCode).observe(seconds);
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (!log.isLevelEnabled(level)) return;
      log[level](
        {
          req: { id, method: req.method, url: req.originalUrl },
          res: { status: res.statusCode },
          responseTime: Math.round(seconds * 1000),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        res.writableFinished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}
