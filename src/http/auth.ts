/**
 * Authentication for every operation but the public ones (login and the meta endpoints, those
 * whose spec says `security: []`). It runs before request validation: a stranger learns nothing
 * about the shape of a request.
 */
import type { RequestHandler } from 'express';
import type { Actor, ExternalIdentity } from '../services/actor';
import type { AuthService } from '../services/auth.service';
import { operationOfRequest, specOperations } from './spec';

declare module 'express-serve-static-core' {
  interface Request {
    actor?: Actor;
    /** Only on `POST /users/me`: the verified identity of an external token that has no account yet. */
    identity?: ExternalIdentity;
  }
}

/** The one operation a verified identity without an account may call: it creates that account. */
const PROVISION_ROUTE = 'POST /api/v1/users/me';

export function authMiddleware(auth: AuthService): RequestHandler {
  const publicOps = new Set(
    specOperations()
      .filter((o) => o.public)
      .map((o) => `${o.method.toUpperCase()} ${o.path}`),
  );
  return async (req, _res, next) => {
    const route = `${req.method} ${req.path}`;
    // A fixed path by the set; one with a path parameter (a callback's token) by the spec's match.
    if (publicOps.has(route) || operationOfRequest(req)?.op.public) return next();
    try {
      if (route === PROVISION_ROUTE) {
        const caller = await auth.identify(req.get('authorization'), req.get('x-api-key'));
        req.actor = caller.actor;
        req.identity = caller.identity;
        return next();
      }
      req.actor = await auth.authenticate(req.get('authorization'), req.get('x-api-key'));
      next();
    } catch (err) {
      next(err);
    }
  };
}
