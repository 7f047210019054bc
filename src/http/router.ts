/**
 * Mounts a handler for every operation of the spec. An operation without a handler answers 501
 * `not_implemented`, so the contract is complete from day one and the gap is visible.
 */
import { Router, type Request } from 'express';
import { NotImplementedError } from '../errors';
import type { Actor } from '../services/actor';
import type { Handler, Handlers, OperationId } from './operations';
import { specDocument, specOperations } from './spec';

type AnyHandler = Handler<OperationId>;

/** The operations that have no handler yet. */
export function unimplementedOperations(handlers: Handlers): string[] {
  return specOperations()
    .filter((op) => !op.public && !(op.operationId in handlers))
    .map((op) => op.operationId);
}

type Param = { in: string; name: string } | { $ref: string };

/** The header parameters an operation declares (following `$ref`s into components). */
function headerParams(path: string, method: string): string[] {
  const spec = specDocument() as unknown as Record<string, unknown>;
  const op = (spec.paths as Record<string, Record<string, { parameters?: Param[] }>>)[path][method];
  const resolve = (p: Param) =>
    '$ref' in p
      ? (p.$ref
          .slice(2)
          .split('/')
          .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], spec) as { in: string; name: string })
      : p;
  return (op.parameters ?? [])
    .map(resolve)
    .filter((p) => p.in === 'header')
    .map((p) => p.name);
}

export function operationsRouter(handlers: Handlers): Router {
  const router = Router();
  for (const op of specOperations()) {
    if (op.public && !(op.operationId in handlers)) continue; // meta routes are mounted elsewhere
    const handler = handlers[op.operationId as OperationId] as AnyHandler | undefined;
    const headerNames = headerParams(op.path, op.method);
    const method = op.method as 'get' | 'post' | 'put' | 'patch' | 'delete';
    router[method](op.route, async (req: Request, res, next) => {
      try {
        if (!handler) throw new NotImplementedError(`${op.operationId} is not implemented yet`);
        const headers = Object.fromEntries(headerNames.map((n) => [n, req.get(n)]).filter(([, v]) => v !== undefined));
        const reply: { status: number; body?: unknown; headers?: Record<string, string> } = await handler({
          actor: req.actor as Actor,
          params: req.params as never,
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
    });
  }
  return router;
}
