/**
 * A node's `rate_limit` (`{per_second, burst, key}`): before the node runs, it reserves a call in
 * its bucket (per account and key, in PostgreSQL, so every worker process shares it). When the
 * bucket is spent the step is deferred, not spun: its task sleeps until the reserved time
 * (holding no worker), and runs then without reserving again. And `Retry-After`: a 429 answer's
 * wait, which the next attempt of a retry honours.
 */
import type { Db } from '../db/knex';
import type { ExecutionRow, TaskRow } from '../db/tables';
import { reserveCall } from '../repositories/rate-limits.repository';
import type { NodeDefinition } from './definition';
import { resolveTemplates } from './expressions';
import { MAX_KEY_LENGTH, type RateLimitPolicy } from './limits';

/** A reservation this close to now runs now. */
const SLACK_MS = 5;

/** Where a deferred step's task keeps its reservation (and what `waiting_reason` shows). */
export interface RateLimited {
  key: string;
  per_second: number;
  until: string;
}

/** The bucket a call of this node counts against. */
async function bucketOf(
  policy: RateLimitPolicy,
  execution: ExecutionRow,
  nodeId: string,
  params: Record<string, unknown>,
  scope: Record<string, unknown>,
): Promise<string> {
  const key = policy.key ?? 'host';
  if (key === 'host') {
    try {
      return `host:${new URL(String(params.url)).host}`;
    } catch {
      return `node:${execution.flow_id}/${nodeId}`;
    }
  }
  if (key === 'node') return `node:${execution.flow_id}/${nodeId}`;
  if (key === 'flow') return `flow:${execution.flow_id}`;
  const value = await resolveTemplates(key, scope);
  return `key:${typeof value === 'string' ? value : JSON.stringify(value ?? null)}`.slice(0, MAX_KEY_LENGTH);
}

/**
 * When the node may not call yet: the time its reserved call may run and the task state that
 * keeps the reservation. Undefined when it may run now (no limit, room in the bucket, or a
 * reservation made before it slept).
 */
export async function deferral(
  db: Db,
  execution: ExecutionRow,
  task: TaskRow,
  node: NodeDefinition,
  params: Record<string, unknown>,
  scope: Record<string, unknown>,
): Promise<{ at: Date; state: Record<string, unknown>; limited: RateLimited } | undefined> {
  const policy = node.rate_limit;
  if (!policy || task.state?.rate_limited) return undefined;
  const key = await bucketOf(policy, execution, task.node_id, params, scope);
  const at = await reserveCall(db, execution.account_id, key, 1 / policy.per_second, policy.burst ?? 1);
  if (at.getTime() - Date.now() <= SLACK_MS) return undefined;
  const limited = { key, per_second: policy.per_second, until: at.toISOString() };
  return { at, state: { ...(task.state ?? {}), rate_limited: limited }, limited };
}

/** The longest `Retry-After` a retry honours when its policy names no `max_backoff_ms`. */
export const MAX_RETRY_AFTER_MS = 300_000;

/** A `Retry-After` header's wait in ms (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(headers: Record<string, string>, now = Date.now()): number | undefined {
  const entry = Object.entries(headers).find(([k]) => k.toLowerCase() === 'retry-after');
  if (!entry) return undefined;
  const value = entry[1].trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
