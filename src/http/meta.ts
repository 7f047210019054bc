/** Health, readiness, metrics, the published spec and its rendered docs (no CDN: Redoc is served from here). */
import { Router } from 'express';
import path from 'node:path';
import { registry } from './metrics';
import { SPEC_JSON_PATH, SPEC_YAML_PATH } from './spec';

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

/** `ready` says whether the database answers in time (readiness, not liveness). */
export function metaRouter(ready: () => Promise<boolean>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (await ready()) res.json({ status: 'ready' });
    else
      res.status(503).json({ error: { code: 'unavailable', message: 'The database does not answer', details: null } });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').sendFile(SPEC_YAML_PATH);
  });
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').sendFile(SPEC_JSON_PATH);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  router.get('/docs/redoc.standalone.js', (_req, res) => {
    res.type('application/javascript').sendFile(REDOC_BUNDLE, { maxAge: '1d' });
  });
  return router;
}
