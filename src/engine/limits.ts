/**
 * What a definition says about limits: a flow's `concurrency` block and a node's `rate_limit`,
 * their JSON Schemas (part of the document's schema) and the save-time check of their templates.
 * Admission is `concurrency.ts`; reserving a call is `rate-limit.ts`.
 */
import { parseProblem, templatesIn } from './expressions';

export type OnLimit = 'queue' | 'skip' | 'cancel_oldest';

/** `concurrency:` at most `limit` executions run at once per value of `key` (a template over the input). */
export interface ConcurrencyPolicy {
  limit: number;
  key?: string;
  on_limit?: OnLimit;
}

/** A node's `rate_limit:` at most `per_second` calls a second per key (`burst` may run back to back). */
export interface RateLimitPolicy {
  per_second: number;
  burst?: number;
  /** `host` (the default: the host of the node's `url`), `node`, `flow`, or a name or template of your own. */
  key?: string;
}

export const MAX_CONCURRENCY_LIMIT = 10_000;
export const MAX_KEY_LENGTH = 200;

export const CONCURRENCY_SCHEMA = {
  type: 'object',
  required: ['limit'],
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_CONCURRENCY_LIMIT },
    key: { type: 'string', minLength: 1, maxLength: 1000 },
    on_limit: { type: 'string', enum: ['queue', 'skip', 'cancel_oldest'] },
  },
} as const;

export const RATE_LIMIT_SCHEMA = {
  type: 'object',
  required: ['per_second'],
  additionalProperties: false,
  properties: {
    per_second: { type: 'number', exclusiveMinimum: 0, maximum: 10_000 },
    burst: { type: 'integer', minimum: 1, maximum: 10_000 },
    key: { type: 'string', minLength: 1, maxLength: 1000 },
  },
} as const;

/** Templates in a limit's key that do not parse, as (path, message). */
export function limitKeyProblems(
  concurrency: ConcurrencyPolicy | undefined,
  nodes: Record<string, { rate_limit?: RateLimitPolicy }>,
): { node: string | null; path: string; message: string }[] {
  const keys: { node: string | null; path: string; key: string | undefined }[] = [
    { node: null, path: 'concurrency.key', key: concurrency?.key },
    ...Object.entries(nodes).map(([id, n]) => ({
      node: id,
      path: `nodes.${id}.rate_limit.key`,
      key: n.rate_limit?.key,
    })),
  ];
  const problems: { node: string | null; path: string; message: string }[] = [];
  for (const { node, path, key } of keys) {
    for (const expression of templatesIn(key ?? '')) {
      const problem = parseProblem(expression);
      if (problem)
        problems.push({ node, path, message: `expression {{ ${expression} }} does not parse: ${problem.message}` });
    }
  }
  return problems;
}
