/**
 * `POST /hooks/{token}`: inbound webhook calls. Mounted before authentication (the token and the
 * signature are the caller's credentials) and before the JSON body parser and the validator: a
 * signature is checked over the raw bytes, and the body may be JSON, a form or text.
 */
import express, { type RequestHandler } from 'express';
import { NotFoundError } from '../errors';
import type { Services } from '../services';
import { MAX_BODY_SIZE } from './input-guard';
import { operationOfRequest } from './spec';

export function hooksRouter(s: Services): RequestHandler {
  const raw = express.raw({ type: () => true, limit: MAX_BODY_SIZE });
  return (req, res, next) => {
    const matched = operationOfRequest(req);
    if (matched?.op.operationId !== 'receiveWebhook') return next();
    let token: string;
    try {
      token = decodeURIComponent(matched.pathParams.token);
    } catch {
      return next(new NotFoundError('No webhook trigger at this URL'));
    }
    raw(req, res, (err?: { type?: string }) => {
      if (err && err.type !== 'entity.too.large') return next(err);
      const gone = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      const call = err
        ? { tooLarge: true as const }
        : {
            method: req.method,
            query: req.query as Record<string, unknown>,
            headers: req.headers,
            body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
            signal: gone.signal,
          };
      s.webhooks.receive(token, call).then((answer) => {
        res.status(answer.status);
        for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
        res.json(answer.body);
      }, next);
    });
  };
}
