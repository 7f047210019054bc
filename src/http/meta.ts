/**
 * Health, readiness, metrics, the published spec and its rendered docs (no CDN: Redoc is served
 * from here), and the web console.
 */
import { Router, type Request, type RequestHandler } from 'express';
import path from 'node:path';
import { InvalidRequestError } from '../errors';
import { CONSOLE_ROUTE, CONSOLE_SCRIPT_ROUTE, CONSOLE_STYLES_ROUTE, serveConsole } from './console';
import { registry } from './metrics';
import { servedSpec } from './spec';

const REDOC_BUNDLE = path.join(path.dirname(require.resolve('redoc/package.json')), 'bundles', 'redoc.standalone.js');

/** The docs page's script: served here, outside the spec. */
export const REDOC_BUNDLE_ROUTE = '/docs/redoc.standalone.js';

/** The paths served here that the spec does not declare, with their methods (for the route guard). */
export const EXTRA_ROUTES: Record<string, string[]> = {
  [REDOC_BUNDLE_ROUTE]: ['GET'],
  [CONSOLE_ROUTE]: ['GET'],
  [`${CONSOLE_ROUTE}/`]: ['GET'],
  [CONSOLE_SCRIPT_ROUTE]: ['GET'],
  [CONSOLE_STYLES_ROUTE]: ['GET'],
};

const DOCS_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>FlowRunner API reference</title>
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="${REDOC_BUNDLE_ROUTE}"></script>
</body>
</html>
`;

/**
 * These routes run before the request validator, which refuses unknown query parameters everywhere
 * else; they take none either, and answer the same 400 (the spec declares it).
 */
const noQueryParameters: RequestHandler = (req, _res, next) => {
  const errors = Object.keys(req.query).map((field) => ({ field, reason: `Unknown query parameter '${field}'` }));
  if (errors.length === 0) return next();
  const [{ field, reason }] = errors;
  next(new InvalidRequestError(reason, { field, reason, errors }));
};

/** The origin this request reached us at, for the served spec; a Host that is not one keeps the relative `/`. */
function serverUrlOf(req: Request): string {
  const host = req.get('host');
  if (!host || (req.protocol !== 'http' && req.protocol !== 'https')) return '/';
  try {
    const url = new URL(`${req.protocol}://${host}`);
    return url.host === host.toLowerCase() ? url.origin : '/';
  } catch {
    return '/';
  }
}

/**
 * `ready` says whether the database answers in time (readiness, not liveness); `docsAccess` guards
 * the docs and the spec documents (private docs, http/docs-access.ts).
 */
export function metaRouter(
  ready: () => Promise<boolean>,
  docsAccess: RequestHandler = (_req, _res, next) => next(),
): RequestHandler {
  const router = Router();
  const paths = new Set<string>();
  const get = (route: string, ...handlers: RequestHandler[]) => {
    paths.add(route.toLowerCase());
    router.get(route, ...handlers);
  };
  get('/healthz', noQueryParameters, (_req, res) => {
    res.json({ status: 'ok' });
  });
  get('/readyz', noQueryParameters, async (_req, res) => {
    if (await ready()) res.json({ status: 'ready' });
    else
      res.status(503).json({ error: { code: 'unavailable', message: 'The database does not answer', details: null } });
  });
  get('/metrics', noQueryParameters, async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  get('/openapi.yaml', noQueryParameters, docsAccess, (req, res) => {
    res.type('application/yaml').send(servedSpec('yaml', serverUrlOf(req)));
  });
  get('/openapi.json', noQueryParameters, docsAccess, (req, res) => {
    res.type('application/json').send(servedSpec('json', serverUrlOf(req)));
  });
  get('/docs', noQueryParameters, docsAccess, (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  get(REDOC_BUNDLE_ROUTE, (_req, res) => {
    res.type('application/javascript').sendFile(REDOC_BUNDLE, { maxAge: '1d' });
  });
  get(CONSOLE_ROUTE, serveConsole);
  get(CONSOLE_SCRIPT_ROUTE, serveConsole);
  get(CONSOLE_STYLES_ROUTE, serveConsole);
  // Every other request passes by without the router's dispatch (Express's matching is case-blind
  // and forgives a trailing slash; the key does the same).
  return (req, res, next) => {
    const key = req.path.toLowerCase().replace(/\/$/, '');
    if (paths.has(key)) router(req, res, next);
    else next();
  };
}
