import type { RequestHandler } from 'express';
import client from 'prom-client';
import { operationOfRequest } from './spec';

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

export const metricsMiddleware: RequestHandler = (req, res, next) => {
  const end = httpDuration.startTimer();
  res.on('finish', () => {
    // Only the spec's path templates (and the meta routes) are labels; any other path shares
    // one, so a stranger cannot grow the registry by asking for new paths.
    const route = operationOfRequest(req)?.op.path ?? 'unknown';
    end({ method: req.method, route, status: String(res.statusCode) });
  });
  next();
};
