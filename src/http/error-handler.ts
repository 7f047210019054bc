/**
 * The one place that turns an error into the seed's body `{"error":{"code","message","details"}}`
 * and a status, and the one place that logs 5xx.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDatabaseUnavailable, isTransactionConflict } from '../db/errors';
import { AppError, MethodNotAllowedError, NotFoundError, RangeNotSatisfiableError } from '../errors';
import type { Logger } from '../log';
import { ERROR_PAGE_CSP, errorPage, wantsErrorPage } from './sign-in-pages';

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> | null };
}

/** What express-openapi-validator and body-parser throw. */
interface HttpLikeError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  errors?: { path?: string; message?: string; errorCode?: string }[];
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_error',
  429: 'rate_limited',
};

/** `/body/name` → `name`; `/query/limit` → `limit`; keeps nested paths readable (`input.key`). */
function fieldOf(p: string | undefined): string | undefined {
  if (!p) return undefined;
  return p.replace(/^\/?(body|query|params|path|headers)\/?/, '').replace(/\//g, '.') || p;
}

function fromHttpLike(err: HttpLikeError): { status: number; body: ErrorBody } | undefined {
  const status = err.status ?? err.statusCode;
  if (!status || status >= 500 || !CODE_BY_STATUS[status]) return undefined;
  if (err.type === 'entity.parse.failed') {
    return {
      status: 400,
      body: {
        error: {
          code: 'invalid_request',
          message: 'Malformed JSON in the request body',
          details: { reason: err.message },
        },
      },
    };
  }
  if (err.type === 'entity.too.large') {
    return {
      status: 413,
      body: {
        error: { code: 'payload_too_large', message: 'The request body is larger than the 1 MiB limit', details: null },
      },
    };
  }
  if (status === 415) {
    // body-parser's charset and encoding refusals: the header to fix is Content-Type (or -Encoding).
    const field = err.type === 'encoding.unsupported' ? 'Content-Encoding' : 'Content-Type';
    return {
      status,
      body: {
        error: {
          code: 'unsupported_media_type',
          message: err.message ?? 'Unsupported media type',
          details: { field, reason: err.message ?? '' },
        },
      },
    };
  }
  const errors = (err.errors ?? []).map((e) => ({ field: fieldOf(e.path), reason: e.message }));
  const routing = status === 404 || status === 405;
  const details = errors.length > 0 && !routing ? { field: errors[0].field, reason: errors[0].reason, errors } : null;
  const message =
    status === 404
      ? 'Resource not found'
      : status === 405
        ? 'Method not allowed'
        : (err.message ?? 'The request was invalid');
  return { status, body: { error: { code: CODE_BY_STATUS[status], message, details } } };
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let status: number;
    let body: ErrorBody;
    const known = err instanceof AppError ? undefined : fromHttpLike(err as HttpLikeError);
    if (err instanceof AppError) {
      status = err.status;
      body = { error: { code: err.code, message: err.message, details: err.details ?? null } };
      if ('retryAfterSeconds' in err) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      if (err instanceof MethodNotAllowedError) res.setHeader('Allow', err.allow.join(', '));
      if (err instanceof RangeNotSatisfiableError) res.setHeader('Content-Range', `bytes */${err.size}`);
    } else if (known) {
      ({ status, body } = known);
    } else if (isDatabaseUnavailable(err) || isTransactionConflict(err)) {
      // A conflict here outlasted db/transaction.ts's retries: the database is busy, so retry.
      if (isTransactionConflict(err)) res.setHeader('Retry-After', '1');
      status = 503;
      body = {
        error: { code: 'unavailable', message: 'The service is temporarily unavailable; retry shortly', details: null },
      };
    } else {
      status = 500;
      body = {
        error: {
          code: 'internal_error',
          message: 'An internal server error occurred',
          details: { request_id: String(req.id) },
        },
      };
    }
    if (status >= 500) {
      log.error({ err, request_id: req.id, method: req.method, url: req.originalUrl }, 'request failed');
    }
    if (res.headersSent) return;
    if (wantsErrorPage(req)) {
      res.status(status).set({ 'Content-Security-Policy': ERROR_PAGE_CSP, 'Cache-Control': 'no-store' });
      res.type('html').send(errorPage(status, body.error, String(req.id)));
      return;
    }
    res.status(status).json(body);
  };
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => next(new NotFoundError('Resource not found'));
