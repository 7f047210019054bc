/**
 * Why an execution does not move on now (`waiting_reason` on GET /executions/{id}): a concurrency
 * slot it waits for (the key, who holds it, its place in line), a deferred call (the rate limit and
 * when), a person or event it waits for, a delay. Read only for executions that wait: a running
 * one costs a query only while it sleeps, a finished one none.
 */
import type { components } from '../../generated/types/api';
import type { Db } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { findSlot, listSlotHolders } from '../repositories/concurrency.repository';
import { findSleepingTask } from '../repositories/rate-limits.repository';

export type WaitingReason = components['schemas']['WaitingReason'];

interface WaitingFor {
  kind?: string;
  node_id?: string | null;
  approvers?: string[];
  child_execution_id?: string;
  deadline?: string | null;
  event?: { name: string };
}

export async function waitingReasonOf(db: Db, ex: ExecutionRow): Promise<WaitingReason | null> {
  if (ex.status === 'queued') return queuedReason(db, ex);
  if (ex.status === 'waiting') return waitReason(ex);
  if (ex.status === 'running' && ex.waiting_until) return sleepReason(db, ex);
  return null;
}

async function queuedReason(db: Db, ex: ExecutionRow): Promise<WaitingReason> {
  const slot = ex.concurrency_key != null ? await findSlot(db, ex.id) : undefined;
  if (slot && !slot.holding) {
    const heldBy = await listSlotHolders(db, ex.flow_id, slot.key);
    const key = slot.key === '' ? 'the flow' : `key "${slot.key}"`;
    return {
      kind: 'concurrency',
      message: `Waiting for a concurrency slot of ${key}: ${heldBy.length} of ${slot.limit} held; number ${slot.position} in line`,
      node_id: null,
      until: null,
      concurrency: { key: slot.key, limit: slot.limit, held_by: heldBy, position: slot.position },
    };
  }
  return { kind: 'queued', message: 'Waiting for a worker to run its first node', node_id: null, until: null };
}

function waitReason(ex: ExecutionRow): WaitingReason | null {
  const w = (ex.waiting_for ?? {}) as WaitingFor;
  const base = { node_id: w.node_id ?? null, until: w.deadline ?? null };
  switch (w.kind) {
    case 'approval': {
      const approvers = w.approvers ?? [];
      const who = approvers.length > 0 ? approvers.join(', ') : 'anyone who may see it';
      const what = w.node_id ? `at node "${w.node_id}"` : 'before its first node';
      return { kind: 'approval', message: `Waiting for an approval ${what} by ${who}`, ...base, approvers };
    }
    case 'subflow':
      return {
        kind: 'subflow',
        message: `Waiting for the subflow execution ${w.child_execution_id} to end`,
        ...base,
        child_execution_id: w.child_execution_id,
      };
    case 'event':
      return { kind: 'event', message: `Waiting for the event "${w.event?.name}"`, ...base };
    case 'callback':
      return { kind: 'callback', message: 'Waiting for a call of its callback URL', ...base };
    case 'input':
      return { kind: 'input', message: `Waiting for input at node "${w.node_id}"`, ...base };
    default:
      return null;
  }
}

async function sleepReason(db: Db, ex: ExecutionRow): Promise<WaitingReason> {
  const until = ex.waiting_until!.toISOString();
  const task = await findSleepingTask(db, ex.id);
  const limited = task?.state?.rate_limited as { key?: string; per_second?: number } | undefined;
  if (limited)
    return {
      kind: 'rate_limit',
      message: `Node "${task!.node_id}" is deferred by its rate limit (${limited.per_second} a second for ${limited.key}) until ${until}`,
      node_id: task!.node_id,
      until,
      rate_limit: { key: String(limited.key), per_second: Number(limited.per_second) },
    };
  return { kind: 'delay', message: `Delayed until ${until}`, node_id: ex.current_node, until };
}
