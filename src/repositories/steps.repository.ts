import type { Knex } from 'knex';
import { newId } from '../db/ids';
import type { StepRow } from '../db/tables';

export type NewStepRow = Omit<StepRow, 'id'>;

export async function insertSteps(db: Knex, steps: NewStepRow[]): Promise<void> {
  if (steps.length === 0) return;
  await db('steps').insert(
    steps.map((step) => ({
      ...step,
      id: newId('step'),
      input: step.input === undefined ? null : JSON.stringify(step.input),
      output: step.output === undefined ? null : JSON.stringify(step.output),
    })),
  );
}

export async function insertStep(db: Knex, step: NewStepRow): Promise<void> {
  await insertSteps(db, [step]);
}

export async function listStepRows(
  db: Knex,
  executionId: string,
  limit: number,
  offset: number,
): Promise<{ rows: StepRow[]; total: number }> {
  const base = db<StepRow>('steps').where({ execution_id: executionId });
  const [rows, [{ count }]] = await Promise.all([
    base
      .clone()
      .orderBy([{ column: 'started_at' }, { column: 'id' }])
      .limit(limit)
      .offset(offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows, total: Number(count) };
}

/**
 * The latest attempt of each node that ran, for a page of executions in one query (a list's or a
 * get's `include=steps`), in the order they began.
 */
export async function listLatestStepRows(db: Knex, executionIds: string[]): Promise<StepRow[]> {
  if (executionIds.length === 0) return [];
  const latest = db<StepRow>('steps')
    .distinctOn('execution_id', 'node_id')
    .whereIn('execution_id', executionIds)
    .orderBy([{ column: 'execution_id' }, { column: 'node_id' }, { column: 'id', order: 'desc' }]);
  return db
    .select('*')
    .from(latest.as('s'))
    .orderBy([{ column: 's.started_at' }, { column: 's.id' }]);
}

/** Every step of an execution in the order they ran (a retry reads where it stopped, a rerun what it reuses). */
export async function listAllStepRows(db: Knex, executionId: string): Promise<StepRow[]> {
  return db<StepRow>('steps')
    .where({ execution_id: executionId })
    .orderBy([{ column: 'started_at' }, { column: 'id' }]);
}
