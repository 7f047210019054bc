import type { Knex } from 'knex';
import { FINAL_STATUSES } from '../db/tables';

/**
 * Names the executions that became final, comma-separated, once per statement that finished them
 * (the `executions_notify_finished` trigger; long lists come in several notifications).
 */
export const FINISHED_CHANNEL = 'flowrunner_finished';

/** Which of these executions have finished (completed, failed or cancelled). */
export async function listFinishedExecutionIds(db: Knex, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return db('executions')
    .whereRaw('id = any(?)', [ids])
    .whereIn('status', FINAL_STATUSES as string[])
    .pluck('id');
}
