import type { Knex } from 'knex';
import { FINAL_STATUSES } from '../db/tables';

/**
 * Names the executions that became final, comma-separated, once per statement that finished them
 * (the `executions_notify_finished` trigger; long lists come in several notifications).
 */
export const FINISHED_CHANNEL = 'flowrunner_finished';

/**
 * The event this process's engine emits on its notifier (not a PostgreSQL channel) for an
 * execution one of its batched steps finished, with the row as committed: a request waiting for it
 * here answers from that row, without waiting for the NOTIFY or reading it again.
 */
export const FINISHED_HERE = 'finished-here';

/** Which of these executions have finished (completed, failed or cancelled). */
export async function listFinishedExecutionIds(db: Knex, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return db('executions')
    .whereRaw('id = any(?)', [ids])
    .whereIn('status', FINAL_STATUSES as string[])
    .pluck('id');
}
