/**
 * Authentication for every operation but the public ones (login and the meta endpoints, those
 * whose spec says `security: []`). It runs before request validation: a stranger learns nothing
 * about the shape of a request.
 */
import type { RequestHandler } from 'express';
import type { Actor } from '../services/actor';
import type { AuthService } from '../services/auth.service';
import { operationOfRequest, specOperations } from './spec';

declare module 'express-serve-static-core' {
  interface Request {
    actor?: Actor;
  }
}

export function authMiddleware(auth: AuthService): RequestHandler {
  const publicOps = new Set(
    specOperations()
      .filter((o) => o.public)
      .map((o) => `${o.method.toUpperCase()} ${o.path}`),
  );
  return async (req, _res, next) => {
    // A fixed path by the set; one with a path parameter (a callback's token) by the spec's match.
    if (publicOps.has(`${req.method} ${req.path}`) || operationOfRequest(req)?.op.public) return next();
    try {
      req.actor = await auth.authenticate(req.get('authorization'), req.get('x-api-key'));
      next();
    } catch (err) {
      next(err);
    }
  };
}
