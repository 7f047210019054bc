/**
 * Mounts a handler for every operation of the spec. An operation without a handler answers 501
 * `not_implemented`, so the contract is complete from day one and the gap is visible.
 */
import type { RequestHandler } from 'express';
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

/**
 * One middleware for every operation: the validator has already matched the request to its
 * operation (`req.openapi`), so the handler is found by its operationId, not by trying the path
 * of each operation in turn.
 */
export function operationsRouter(handlers: Handlers): RequestHandler {
  const byOperationId = new Map<string, { handler?: AnyHandler; headerNames: string[]; operationId: string }>();
  for (const op of specOperations()) {
    if (op.public && !(op.operationId in handlers)) continue; // meta routes are mounted elsewhere
    byOperationId.set(op.operationId, {
      handler: handlers[op.operationId as OperationId] as AnyHandler | undefined,
      headerNames: headerParams(op.path, op.method),
      operationId: op.operationId,
    });
  }
  return async (req, res, next) => {
    const openapi = (req as { openapi?: { schema?: { operationId?: string }; pathParams?: object } }).openapi;
    const entry = openapi?.schema?.operationId ? byOperationId.get(openapi.schema.operationId) : undefined;
    if (!entry) return next();
    try {
      if (!entry.handler) throw new NotImplementedError(`${entry.operationId} is not implemented yet`);
      const headers = Object.fromEntries(
        entry.headerNames.map((n) => [n, req.get(n)]).filter(([, v]) => v !== undefined),
      );
      const reply: { status: number; body?: unknown; headers?: Record<string, string> } = await entry.handler({
        actor: req.actor as Actor,
        // The validator's copy: integers in it are coerced and range-checked ("1e0" is 1).
        params: { ...openapi?.pathParams } as never,
        query: req.query as never,
        headers: headers as never,
        body: req.body as never,
        req,
        res,
      });
      res.status(reply.status);
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      if (reply.body === undefined) res.end();
      else res.json(reply.body);
    } catch (err) {
      next(err);
    }
  };
}
