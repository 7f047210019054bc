/** Health, readiness, metrics, the published spec and its rendered docs (no CDN: Redoc is served from here). */
import { Router, type Request, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import path from 'node:path';
import { InvalidRequestError } from '../errors';
import { registry } from './metrics';
import { servedSpec } from './spec';

const REDOC_BUNDLE = path.join(path.dirname(require.resolve('redoc/package.json')), 'bundles', 'redoc.standalone.js');

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
  <script src="/docs/redoc.standalone.js"></script>
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

/** A host name, IPv4 or bracketed IPv6 address, and an optional port. */
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The URL this request reached us at, for the served spec; a malformed Host keeps the relative `/`. */
function serverUrlOf(req: Request): string {
  const host = req.host;
  return (req.protocol === 'http' || req.protocol === 'https') && host && HOST.test(host)
    ? `${req.protocol}://${host}`
    : '/';
}

async function databaseAnswers(db: Knex, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      db.raw('select 1').then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function metaRouter(db: Knex): Router {
  const router = Router();
  router.get('/healthz', noQueryParameters, (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', noQueryParameters, async (_req, res) => {
    if (await databaseAnswers(db, 2000)) res.json({ status: 'ready' });
    else
      res.status(503).json({ error: { code: 'unavailable', message: 'The database does not answer', details: null } });
  });
  router.get('/metrics', noQueryParameters, async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  router.get('/openapi.yaml', noQueryParameters, (req, res) => {
    res.type('application/yaml').send(servedSpec('yaml', serverUrlOf(req)));
  });
  router.get('/openapi.json', noQueryParameters, (req, res) => {
    res.type('application/json').send(servedSpec('json', serverUrlOf(req)));
  });
  router.get('/docs', noQueryParameters, (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  router.get('/docs/redoc.standalone.js', (_req, res) => {
    res.type('application/javascript').sendFile(REDOC_BUNDLE, { maxAge: '1d' });
  });
  return router;
}
