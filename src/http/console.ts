/**
 * The web console (console/): built in memory with esbuild from its TypeScript sources the first
 * time it is asked for, then served from memory, gzipped when the browser accepts it. Nothing is
 * written or committed, so what is served cannot drift from the source; a failed build is answered
 * 503 and tried again on the next request.
 */
import path from 'node:path';
import zlib from 'node:zlib';
import type { Request, RequestHandler, Response } from 'express';
import { NotFoundError } from '../errors';

const CONSOLE_DIR = path.join(__dirname, '..', '..', 'console');

export const CONSOLE_ROUTE = '/console';
export const CONSOLE_SCRIPT_ROUTE = '/console/app.js';
export const CONSOLE_STYLES_ROUTE = '/console/app.css';

export interface ConsoleBundle {
  js: string;
  css: string;
}

export async function buildConsole(): Promise<ConsoleBundle> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [path.join(CONSOLE_DIR, 'src', 'main.tsx')],
    tsconfig: path.join(CONSOLE_DIR, 'tsconfig.json'),
    bundle: true,
    write: false,
    outdir: path.join(CONSOLE_DIR, 'out'),
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const text = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
  return { js: text('.js'), css: text('.css') };
}

interface Asset {
  type: string;
  plain: Buffer;
  gzipped: Buffer;
}

function asset(type: string, text: string): Asset {
  const plain = Buffer.from(text);
  return { type, plain, gzipped: zlib.gzipSync(plain) };
}

const HTML = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>FlowRunner console</title>
  <link rel="stylesheet" href="${CONSOLE_STYLES_ROUTE}">
</head>
<body>
  <div id="app"></div>
  <script type="module" src="${CONSOLE_SCRIPT_ROUTE}"></script>
</body>
</html>
`;

// Everything from us; CodeMirror writes its styles into <style> elements, hence 'unsafe-inline' for styles.
const CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

let assets: Promise<Record<string, Asset>> | null = null;

function consoleAssets(): Promise<Record<string, Asset>> {
  assets ??= buildConsole().then(
    ({ js, css }) => ({
      [CONSOLE_ROUTE]: asset('text/html; charset=utf-8', HTML),
      [CONSOLE_SCRIPT_ROUTE]: asset('application/javascript; charset=utf-8', js),
      [CONSOLE_STYLES_ROUTE]: asset('text/css; charset=utf-8', css),
    }),
    (err: unknown) => {
      assets = null;
      throw err;
    },
  );
  return assets;
}

function send(req: Request, res: Response, file: Asset): void {
  const gzip = req.acceptsEncodings('gzip', 'identity') === 'gzip';
  res.set({
    'Content-Type': file.type,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    Vary: 'Accept-Encoding',
    ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
  });
  res.send(gzip ? file.gzipped : file.plain);
}

/** The console's page, script and styles (one handler for the three routes). */
export const serveConsole: RequestHandler = (req, res) => {
  const route = req.path.toLowerCase().replace(/\/$/, '') || CONSOLE_ROUTE;
  consoleAssets().then(
    (files) => send(req, res, files[route] ?? files[CONSOLE_ROUTE]),
    (err: unknown) => {
      res.status(503).json({
        error: {
          code: 'unavailable',
          message: `The console could not be built: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
          details: null,
        },
      });
    },
  );
};

/**
 * `GET /` from a browser (it asks for HTML) goes to the console; API clients keep the JSON answer
 * (404 `not_found`, the spec has no `/`).
 */
export const browserHome: RequestHandler = (req, res, next) => {
  if (req.path !== '/' || req.method !== 'GET') return next();
  if (req.accepts(['application/json', 'text/html']) === 'text/html') return res.redirect(302, CONSOLE_ROUTE);
  // An API client gets the contract's 404, saying where the API and its description are.
  next(
    new NotFoundError(
      'Nothing here: the API is under /api/v1, its contract at /openapi.json (or .yaml), its reference at /docs',
      {
        api: '/api/v1',
        spec: '/openapi.json',
        docs: '/docs',
        console: CONSOLE_ROUTE,
      },
    ),
  );
};
