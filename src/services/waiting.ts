/** What a waiting execution waits for, and taking the lock on one that waits for a given kind. */
import type { Tx } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { ConflictError } from '../errors';
import { lockExecution, updateExecution } from '../repositories/executions.repository';

export interface WaitingFor {
  node_id: string | null;
  kind: 'approval' | 'input' | 'subflow' | 'event' | 'callback';
  /** For `callback`: the sha256 of its token (never shown). */
  callback_hash?: string;
  event?: { name: string; correlation: string };
  approvers?: string[];
  no_self_approval?: boolean;
  outcomes?: { name: string; label?: string }[];
}

/** Locks the execution and returns what it waits for, when it waits for this kind. */
export async function lockWaiting(
  tx: Tx,
  id: string,
  kind: WaitingFor['kind'],
): Promise<{ ex: ExecutionRow; waiting: WaitingFor }> {
  const ex = (await lockExecution(tx, id))!;
  const waiting = ex.waiting_for as WaitingFor | null;
  if (ex.status !== 'waiting' || !waiting || waiting.kind !== kind) {
    const what = kind === 'approval' ? 'No approval is pending' : 'The execution is not waiting for input';
    throw new ConflictError(
      `${what} (status ${ex.status}${ex.approval_status && kind === 'approval' ? `, approval ${ex.approval_status}` : ''})`,
    );
  }
  return { ex, waiting };
}

/** The wait is over (answered, resumed, moved): nothing is awaited any more, nor until when. */
export async function endWait(tx: Tx, id: string, patch: Partial<ExecutionRow>): Promise<void> {
  await updateExecution(tx, id, { ...patch, waiting_for: null, waiting_until: null });
}
