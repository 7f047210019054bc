// DO NOT EDIT: copied from scripts/client/src/errors.ts by `npm run generate`.
/**
 * One error class for everything a FlowRunner call can fail with. It keeps what a caller needs
 * (status, the API's code, message and details, the request id to quote) and nothing of the
 * request: no headers, no body, no URL query, so no token, API key or password can reach a log
 * through `console.log`, `util.inspect`, `JSON.stringify`, `toString` or a `cause` chain.
 */
import type { ErrorCode } from './model/index.js';

/**
 * The API's codes; with status 0, `network_error` (no answer came), `aborted` (the caller's signal)
 * or `timeout` (a wait of this client ran out).
 */
export type FlowRunnerErrorCode = ErrorCode | 'network_error' | 'aborted' | 'timeout';

export interface FlowRunnerErrorInit {
  status: number;
  code: FlowRunnerErrorCode | (string & {});
  message: string;
  details?: Record<string, unknown> | null;
  requestId?: string | null;
  method?: string;
  /** The request's path, without query string or host. */
  path?: string;
  /** Retry-After in seconds, when the answer had one. */
  retryAfter?: number | null;
}

export class FlowRunnerError extends Error {
  /** The HTTP status; 0 when no answer came (connection refused, reset, timed out). */
  readonly status: number;
  readonly code: FlowRunnerErrorCode | (string & {});
  readonly details: Record<string, unknown> | null;
  /** The `X-Request-Id` of the answer: quote it when reporting a problem. */
  readonly requestId: string | null;
  readonly method: string | null;
  readonly path: string | null;
  readonly retryAfter: number | null;

  constructor(init: FlowRunnerErrorInit) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? null;
    this.requestId = init.requestId ?? null;
    this.method = init.method ?? null;
    this.path = init.path ?? null;
    this.retryAfter = init.retryAfter ?? null;
  }

  override toString(): string {
    const where = this.method && this.path ? ` (${this.method} ${this.path})` : '';
    const id = this.requestId ? ` [request ${this.requestId}]` : '';
    return `FlowRunnerError ${this.status} ${this.code}: ${this.message}${where}${id}`;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      status: this.status,
      code: this.code,
      message: this.message,
      details: this.details,
      requestId: this.requestId,
      method: this.method,
      path: this.path,
      retryAfter: this.retryAfter,
    };
  }
}

// On the prototype, so that the stack's first line (made in Error's constructor) names the class too.
Object.defineProperty(FlowRunnerError.prototype, 'name', {
  value: 'FlowRunnerError',
  configurable: true,
  writable: true,
});

/** Also true for an error of another copy of this package (its ESM and CommonJS builds both loaded). */
export function isFlowRunnerError(value: unknown): value is FlowRunnerError {
  return (
    value instanceof FlowRunnerError ||
    (value instanceof Error &&
      value.name === 'FlowRunnerError' &&
      typeof (value as { status?: unknown }).status === 'number')
  );
}
