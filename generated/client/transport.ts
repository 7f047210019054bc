// DO NOT EDIT: copied from scripts/client/src/transport.ts by `npm run generate`.
/**
 * The axios instance under a FlowRunnerClient: retries of idempotent requests (408, 429, 5xx and
 * network errors, honouring Retry-After, with exponential backoff and jitter otherwise), an
 * Idempotency-Key on every start that has none (so that its retries are safe too), and every
 * failure turned into a FlowRunnerError that carries no part of the request.
 */
import axios, { type AxiosError, type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import { FlowRunnerError } from './errors.js';

export interface RetryOptions {
  /** Retries after the first attempt (default 2; 0 turns retries off). */
  maxRetries?: number;
  /** The first backoff delay (default 500 ms); it doubles with each retry, with jitter. */
  baseDelayMs?: number;
  /** The longest backoff delay (default 8 s). */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the error is thrown (default 60 s). */
  maxRetryAfterMs?: number;
  /** Called before each retry (for logs or metrics). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** The status that was answered, 0 for a network error. */
  status: number;
  method: string;
  path: string;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const RETRYABLE_STATUS = (status: number) => status === 408 || status === 429 || (status >= 500 && status !== 501);
/** The operations that start an execution: POST /flows/{id}/run (004) and POST /runs (003). */
const STARTS = [/\/api\/v1\/flows\/[^/]+\/run$/, /\/api\/v1\/runs$/];

/** A request may be sent again when its method is idempotent or it carries an Idempotency-Key. */
export function isIdempotent(method: string, hasIdempotencyKey: boolean): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase()) || hasIdempotencyKey;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * The delay before retry number `attempt` (1-based), or null when the answer must not be retried
 * (not retryable, no retries left, or a Retry-After beyond `maxRetryAfterMs`).
 */
export function retryDelay(
  attempt: number,
  status: number,
  retryAfter: unknown,
  options: RetryOptions = {},
  random: () => number = Math.random,
): number | null {
  if (attempt > (options.maxRetries ?? 2)) return null;
  if (status !== 0 && !RETRYABLE_STATUS(status)) return null;
  const asked = parseRetryAfter(retryAfter);
  if (asked !== null) return asked <= (options.maxRetryAfterMs ?? 60_000) ? asked : null;
  const ceiling = Math.min(options.maxDelayMs ?? 8_000, (options.baseDelayMs ?? 500) * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2); // "equal jitter": between half and all of it
}

/**
 * A fresh key for a start: a random UUID (122 bits). Browsers offer `randomUUID` only in secure
 * contexts (HTTPS, localhost); elsewhere the same UUID is made from `getRandomValues`.
 */
export function newIdempotencyKey(): string {
  const crypto = globalThis.crypto;
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function pathOf(url: string | undefined): string {
  if (!url) return '';
  try {
    return new URL(url, 'http://x').pathname;
  } catch {
    return url.split('?')[0] ?? '';
  }
}

function header(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const value = typeof h.get === 'function' ? h.get(name) : (h[name] ?? h[name.toLowerCase()]);
  return typeof value === 'string' ? value : value == null ? null : String(value);
}

/** Turns anything axios throws into a FlowRunnerError made only of the answer. */
export function toFlowRunnerError(err: unknown): unknown {
  if (err instanceof FlowRunnerError || !axios.isAxiosError(err)) return err;
  const method = (err.config?.method ?? 'get').toUpperCase();
  const path = pathOf(err.config?.url);
  if (axios.isCancel(err) || err.code === 'ERR_CANCELED') {
    return new FlowRunnerError({ status: 0, code: 'aborted', message: 'The request was aborted', method, path });
  }
  const res = err.response;
  if (!res) {
    const message = `No answer from the server (${err.code ?? 'network error'})`;
    return new FlowRunnerError({ status: 0, code: 'network_error', message, method, path });
  }
  const body = (res.data ?? {}) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
  const e = typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : {};
  const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : null;
  const retryAfter = parseRetryAfter(header(res.headers, 'retry-after'));
  return new FlowRunnerError({
    status: res.status,
    code: typeof e.code === 'string' ? e.code : `http_${res.status}`,
    message: typeof e.message === 'string' ? e.message : `HTTP ${res.status}`,
    details,
    requestId:
      header(res.headers, 'x-request-id') ?? (typeof details?.request_id === 'string' ? details.request_id : null),
    method,
    path,
    retryAfter: retryAfter === null ? null : retryAfter / 1000,
  });
}

function sleep(ms: number, signal?: { aborted?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(); // the retry itself then fails as aborted
    setTimeout(resolve, ms);
  });
}

const ATTEMPT = Symbol('flowrunner.attempt');

/** An axios instance with the client's retry policy, start keys and errors. */
export function createTransport(defaults: CreateAxiosDefaults = {}, retry: RetryOptions = {}): AxiosInstance {
  const instance = axios.create(defaults);
  instance.interceptors.request.use((config) => {
    const method = (config.method ?? 'get').toUpperCase();
    if (
      method === 'POST' &&
      STARTS.some((re) => re.test(pathOf(config.url))) &&
      !config.headers.has('Idempotency-Key')
    ) {
      config.headers.set('Idempotency-Key', newIdempotencyKey());
    }
    return config;
  });
  instance.interceptors.response.use(undefined, async (err: AxiosError) => {
    const config = err.config as (AxiosError['config'] & { [ATTEMPT]?: number }) | undefined;
    if (config && axios.isAxiosError(err) && !axios.isCancel(err)) {
      const method = (config.method ?? 'get').toUpperCase();
      const attempt = (config[ATTEMPT] ?? 0) + 1;
      const status = err.response?.status ?? 0;
      const delayMs = isIdempotent(method, config.headers?.has('Idempotency-Key') ?? false)
        ? retryDelay(attempt, status, header(err.response?.headers, 'retry-after'), retry)
        : null;
      if (delayMs !== null) {
        config[ATTEMPT] = attempt;
        retry.onRetry?.({ attempt, delayMs, status, method, path: pathOf(config.url) });
        await sleep(delayMs, config.signal as { aborted?: boolean } | undefined);
        return instance.request(config);
      }
    }
    throw toFlowRunnerError(err);
  });
  return instance;
}
