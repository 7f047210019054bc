/**
 * Private docs (FLOWRUNNER_DOCS_PRIVATE): `/docs` and the spec documents answer only a caller with
 * credentials (a token or API key, by header, as for every operation) or a browser with the docs'
 * session cookie, which browser sign-in sets. A browser without either is sent to sign in and
 * comes back to `/docs`; anyone else gets 401. Public docs (the default) pass everyone.
 */
import type { RequestHandler } from 'express';
import { DOCS_SESSION_COOKIE, readCookie } from '../controllers/cookies';
import { SIGN_IN_START_ROUTE } from '../controllers/sign-in.controller';
import { UnauthorizedError } from '../errors';
import type { Services } from '../services';

export function docsAccess(s: Services): RequestHandler {
  if (!s.config.docsPrivate) return (_req, _res, next) => next();
  return async (req, res, next) => {
    try {
      res.set('Cache-Control', 'private, no-store');
      const authorization = req.get('authorization');
      const apiKey = req.get('x-api-key');
      if (authorization !== undefined || apiKey !== undefined) {
        await s.auth.authenticate(authorization, apiKey);
        return next();
      }
      const session = readCookie(req, DOCS_SESSION_COOKIE);
      if (session !== undefined) {
        try {
          await s.auth.authenticateToken(session);
          return next();
        } catch (err) {
          if (!(err instanceof UnauthorizedError)) throw err; // expired or revoked: sign in again
        }
      }
      const page = req.path.toLowerCase().replace(/\/$/, '') === '/docs';
      if (page && req.accepts(['application/json', 'text/html']) === 'text/html') {
        return res.redirect(302, `${SIGN_IN_START_ROUTE}?return_to=docs`);
      }
      throw new UnauthorizedError('The API reference is private: sign in with a browser, or send credentials', {
        reason: 'docs_private',
      });
    } catch (err) {
      next(err);
    }
  };
}
