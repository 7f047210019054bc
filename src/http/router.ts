/**
 * Mounts a handler for every operation of the spec. An operation without a handler answers 501
 * `not_implemented`, so the contract is complete from day one and the gap is visible.
 */
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { NotImplementedError } from '../errors';
import type { Actor } from '../services/actor';
import type { Handler, Handlers, OperationId } from './operations';
import { resolveParam, specDocument, specOperations } from './spec';

type AnyHandler = Handler<OperationId>;

/** The operations that have no handler yet. */
export function unimplementedOperations(handlers: Handlers): string[] {
  return specOperations()
    .filter((op) => !op.public && !(op.operationId in handlers))
    .map((op) => op.operationId);
}

/** The header parameters an operation declares (following `$ref`s into components). */
function headerParams(path: string, method: string): string[] {
  const spec = specDocument();
  const op = spec.paths[path][method];
  return (op.parameters ?? [])
    .map((p) => resolveParam(spec, p))
    .filter((p) => p.in === 'header')
    .map((p) => p.name);
}

/** An operation's handler (undefined: not implemented yet) and the header parameters it declares. */
export interface OperationRoute {
  operationId: string;
  handler?: AnyHandler;
  headerNames: string[];
}

/** Every operation of the spec with its handler, by operationId (meta routes without one are mounted elsewhere). */
export function operationRoutes(handlers: Handlers): Map<string, OperationRoute> {
  const routes = new Map<string, OperationRoute>();
  for (const op of specOperations()) {
    if (op.public && !(op.operationId in handlers)) continue;
    routes.set(op.operationId, {
      operationId: op.operationId,
      handler: handlers[op.operationId as OperationId] as AnyHandler | undefined,
      headerNames: headerParams(op.path, op.method),
    });
  }
  return routes;
}

/** What a handler gets besides the request: the validated path parameters and query. */
export interface Validated {
  pathParams: object;
  query: object;
}

type AnyReply = { status: number; body?: unknown; headers?: Record<string, string>; stream?: Readable };

/** Runs an operation's handler on a validated request and writes its reply; errors go to `next`. */
export async function dispatch(
  route: OperationRoute,
  validated: Validated,
  req: Request,
  res: Response,
  next: NextFunction,
): Promise<void> {
  try {
    if (!route.handler) throw new NotImplementedError(`${route.operationId} is not implemented yet`);
    const headers: Record<string, string> = {};
    for (const name of route.headerNames) {
      const value = req.get(name);
      if (value !== undefined) headers[name] = value;
    }
    const reply: AnyReply = await route.handler({
      actor: req.actor as Actor,
      params: { ...validated.pathParams } as never,
      query: validated.query as never,
      headers: headers as never,
      body: req.body as never,
      req,
      res,
    });
    res.status(reply.status);
    if (reply.headers) for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
    // A failure midway can only cut the answer short (its status is sent): the client sees it
    // end early, and the stream stops reading.
    if (reply.stream) pipeline(reply.stream, res, () => {});
    else if (reply.body === undefined) res.end();
    else res.json(reply.body);
  } catch (err) {
    next(err);
  }
}

/**
 * One middleware for every operation that express-openapi-validator checked: it has matched the
 * request to its operation (`req.openapi`), so the handler is found by its operationId, not by
 * trying the path of each operation in turn.
 */
export function operationsRouter(routes: Map<string, OperationRoute>): RequestHandler {
  return (req, res, next) => {
    const openapi = (req as { openapi?: { schema?: { operationId?: string }; pathParams?: object } }).openapi;
    const route = openapi?.schema?.operationId ? routes.get(openapi.schema.operationId) : undefined;
    if (!route) return next();
    // The validator's copies: integers in them are coerced and range-checked ("1e0" is 1).
    void dispatch(route, { pathParams: openapi?.pathParams ?? {}, query: req.query }, req, res, next);
  };
}
