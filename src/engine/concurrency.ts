/**
 * A flow's concurrency limit (`concurrency: {limit, key, on_limit}`): at most `limit` executions of
 * the flow hold a slot of one key at a time; only an execution that holds one has tasks. Admission
 * happens here, in the transaction that creates the execution (or, after a flow-level approval,
 * the one that queues its entry node); the slot is released by the database, in the statement
 * that makes the execution final (the `executions_release_slot` trigger), which also admits the
 * oldest executions waiting for that key. So the limit holds whatever commits or crashes.
 */
import type { Tx } from '../db/knex';
import { FINAL_STATUSES, type ExecutionRow } from '../db/tables';
import { appendEvents } from '../repositories/events.repository';
import { lockExecution } from '../repositories/executions.repository';
import { insertSlot, listSlotHolders, lockConcurrencyKey } from '../repositories/concurrency.repository';
import { insertTask } from '../repositories/tasks.repository';
import { resolveTemplates } from './expressions';
import { MAX_KEY_LENGTH, type ConcurrencyPolicy, type OnLimit } from './limits';

/** A limited execution's admission: its flow's limit and what to do at it, and its own key. */
export interface Admission {
  key: string;
  limit: number;
  on_limit: OnLimit;
}

export class ConcurrencyKeyError extends Error {}

/** The admission of an execution of a flow with this policy and this input. */
export async function admissionFor(policy: ConcurrencyPolicy, input: Record<string, unknown>): Promise<Admission> {
  return { key: await concurrencyKeyOf(policy, input), limit: policy.limit, on_limit: policy.on_limit ?? 'queue' };
}

/** The key's value for an input: its template evaluated over `{input}`; no key means one key for the flow. */
export async function concurrencyKeyOf(policy: ConcurrencyPolicy, input: Record<string, unknown>): Promise<string> {
  if (policy.key === undefined) return '';
  let value: unknown;
  try {
    value = await resolveTemplates(policy.key, { input });
  } catch (err) {
    throw new ConcurrencyKeyError(`the concurrency key template failed: ${(err as Error).message}`);
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  if (text.length > MAX_KEY_LENGTH)
    throw new ConcurrencyKeyError(`the concurrency key is ${text.length} characters long; at most ${MAX_KEY_LENGTH}`);
  return text;
}

type Cancel = (tx: Tx, ex: ExecutionRow, reason: string, actorId: string | null) => Promise<void>;

/**
 * Admits a queued execution (already inserted, with its key) to run its entry node, or lines it
 * up, or ends it, as `on_limit` says. Returns 'run' when the caller should queue the entry task.
 * `cancel` is lifecycle's cancelExecution (passed in: lifecycle calls this).
 */
export async function admitExecution(
  tx: Tx,
  ex: ExecutionRow,
  entry: string,
  admission: Admission,
  cancel: Cancel,
): Promise<'run' | 'queued' | 'skipped'> {
  const { key, limit, on_limit } = admission;
  await lockConcurrencyKey(tx, ex.flow_id, key, limit);
  let holders = await listSlotHolders(tx, ex.flow_id, key);
  const shown = key === '' ? 'the flow' : `key "${key}"`;
  if (holders.length >= limit && on_limit === 'cancel_oldest') {
    for (const id of holders.slice(0, holders.length - limit + 1)) {
      const oldest = await lockExecution(tx, id);
      if (oldest && !FINAL_STATUSES.includes(oldest.status))
        await cancel(
          tx,
          oldest,
          `Cancelled for the newer execution ${ex.id}: the concurrency limit of ${limit} for ${shown} was reached (on_limit: cancel_oldest)`,
          null,
        );
    }
    // The releases may have admitted executions that waited (under an older `on_limit`).
    holders = await listSlotHolders(tx, ex.flow_id, key);
  }
  if (holders.length < limit) {
    await insertSlot(tx, { execution_id: ex.id, flow_id: ex.flow_id, key, holding: true, entry });
    return 'run';
  }
  if (on_limit === 'skip') {
    await cancel(
      tx,
      ex,
      `Skipped: the concurrency limit of ${limit} for ${shown} is reached (held by ${holders.join(', ')}; on_limit: skip)`,
      null,
    );
    return 'skipped';
  }
  await insertSlot(tx, { execution_id: ex.id, flow_id: ex.flow_id, key, holding: false, entry });
  await appendEvents(tx, ex.id, [
    {
      type: 'log',
      level: 'info',
      payload: {
        level: 'info',
        message: `Waiting for a concurrency slot: the limit of ${limit} for ${shown} is reached`,
        node_id: null,
        node_type: null,
        data: { concurrency_key: key, limit, held_by: holders },
      },
    },
  ]);
  return 'queued';
}

/**
 * Queues the entry node of an execution that was waiting before it (a flow-level approval was
 * granted): through admission when its flow is limited.
 */
export async function queueEntry(
  tx: Tx,
  ex: ExecutionRow,
  entry: string,
  policy: ConcurrencyPolicy | undefined,
  cancel: Cancel,
): Promise<void> {
  if (policy && ex.concurrency_key != null) {
    const admission = { key: ex.concurrency_key, limit: policy.limit, on_limit: policy.on_limit ?? 'queue' };
    if ((await admitExecution(tx, { ...ex, status: 'queued' }, entry, admission, cancel)) !== 'run') return;
  }
  await insertTask(tx, { execution_id: ex.id, node_id: entry });
}
