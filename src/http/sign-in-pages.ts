/**
 * Browser sign-in's navigations (start, the provider's redirect back, sign-out) answer their errors
 * as a page when a browser asks for HTML: a person who declined at the provider, came back with a
 * stale or foreign state, or whose provider is down reads what happened and a way back, not JSON.
 * API clients get the usual error body. The status and message are the error mapping's own.
 */
import type { Request } from 'express';

const PAGES = new Set(['/api/v1/auth/oidc/authorize', '/api/v1/auth/oidc/callback', '/api/v1/auth/oidc/logout']);

const TITLES: Record<number, string> = {
  400: 'Sign-in did not complete',
  403: 'Sign-in was refused',
  404: 'Sign-in is not available',
  409: 'This identity cannot have an account',
  503: 'The identity provider is not reachable',
};

/** Only inline styles, no script, nothing from elsewhere. */
export const ERROR_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

export function wantsErrorPage(req: Request): boolean {
  return (
    req.method === 'GET' &&
    PAGES.has(req.path.toLowerCase()) &&
    req.accepts(['application/json', 'text/html']) === 'text/html'
  );
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function errorPage(status: number, error: { code: string; message: string }, requestId: string): string {
  const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Sign-in did not complete');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escape(title)} · FlowRunner</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; color: #1f2328; background: #f6f8fa; margin: 0; }
    main { max-width: 32rem; margin: 4rem auto; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 1.5rem 2rem; }
    h1 { font-size: 1.4rem; margin-top: 0; }
    .muted { color: #57606a; font-size: 0.9rem; }
    a.button { display: inline-block; background: #0969da; color: #fff; padding: 0.4rem 1rem; border-radius: 6px; text-decoration: none; }
  </style>
</head>
<body>
  <main>
    <h1>${escape(title)}</h1>
    <p role="alert">${escape(error.message)}</p>
    <p><a class="button" href="/console">Back to sign-in</a></p>
    <p class="muted">Error ${status} <code>${escape(error.code)}</code> · request ${escape(requestId)}</p>
  </main>
</body>
</html>
`;
}
