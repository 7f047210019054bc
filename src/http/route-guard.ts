/**
 * Whether the contract has a request's path and method at all, decided once for every request,
 * before authentication and before anything reads the request: a path the spec does not define is
 * 404 `not_found`; a method the spec does not define for a path is 405 `method_not_allowed`, with
 * `Allow` listing the methods it does. The spec is public, so a stranger learns nothing from either
 * that the published document does not already say.
 *
 * HEAD and OPTIONS are methods like any other here: the contract defines neither, and answering
 * them on some paths (Express answers HEAD for every GET route) but not others is what this replaces.
 */
import type { RequestHandler } from 'express';
import { MethodNotAllowedError, NotFoundError } from '../errors';
import { specMethodsAtRequest } from './spec';

/** `extraRoutes`: paths the server serves outside the spec (the docs page's script), with their methods. */
export function routeGuard(extraRoutes: Record<string, string[]> = {}): RequestHandler {
  return (req, _res, next) => {
    const methods = extraRoutes[req.path] ?? specMethodsAtRequest(req);
    if (!methods) return next(new NotFoundError('Resource not found'));
    if (!methods.includes(req.method)) {
      return next(
        new MethodNotAllowedError(`${req.method} is not allowed here; allowed: ${methods.join(', ')}`, methods),
      );
    }
    next();
  };
}
