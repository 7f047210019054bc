/**
 * The one error hierarchy. Services throw these by meaning; http/error-handler.ts maps them to the
 * seed's body `{"error":{"code","message","details"}}` and status, in one place.
 */
export type ErrorDetails = Record<string, unknown>;

export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request is malformed (400). */
export class InvalidRequestError extends AppError {
  readonly status = 400;
  readonly code = 'invalid_request';
}
/** Authentication is required or failed (401). */
export class UnauthorizedError extends AppError {
  readonly status = 401;
  readonly code = 'unauthorized';
}
/** Authenticated, but not allowed (403). */
export class ForbiddenError extends AppError {
  readonly status = 403;
  readonly code = 'forbidden';
}
/** Absent, or not visible to the caller (404). */
export class NotFoundError extends AppError {
  readonly status = 404;
  readonly code = 'not_found';
}
/** The path exists, but not with this method (405); `allow` lists the methods it has. */
export class MethodNotAllowedError extends AppError {
  readonly status = 405;
  readonly code = 'method_not_allowed';
  constructor(
    message: string,
    readonly allow: string[],
  ) {
    super(message, { allow });
  }
}
/** Conflicts with the current state (409). */
export class ConflictError extends AppError {
  readonly status = 409;
  readonly code = 'conflict';
}
/** The request body is not in a media type the operation takes (415). */
export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
}
/** The request body is over the limit (413). */
export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly code = 'payload_too_large';
}
/** A byte range outside the resource (416); the answer says its size in `Content-Range`. */
export class RangeNotSatisfiableError extends AppError {
  readonly status = 416;
  readonly code = 'range_not_satisfiable';
  constructor(
    message: string,
    readonly size: number,
  ) {
    super(message, { field: 'Range', size });
  }
}
/** Well-formed but semantically invalid (422). */
export class ValidationError extends AppError {
  readonly status = 422;
  readonly code = 'validation_error';
}
/** Too many requests (429); retry after `retryAfterSeconds`. */
export class RateLimitedError extends AppError {
  readonly status = 429;
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { retry_after: retryAfterSeconds });
  }
}
/** Something this server depends on (an identity provider) cannot be reached or answer now (503). */
export class UnavailableError extends AppError {
  readonly status = 503;
  readonly code = 'unavailable';
}
/** The operation is in the contract but not built yet (501). */
export class NotImplementedError extends AppError {
  readonly status = 501;
  readonly code = 'not_implemented';
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string from outside cannot be kept, or undefined when it can: PostgreSQL refuses NUL in
 * text and lone UTF-16 surrogates in JSON. Shared by the request guard and the definition parser,
 * which both turn it into their own 4xx.
 */
export function unstorableTextReason(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain the NUL character';
  if (LONE_SURROGATE.test(s)) return 'must not contain a lone UTF-16 surrogate';
  return undefined;
}
