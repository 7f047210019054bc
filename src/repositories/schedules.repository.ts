/** Schedules: one named function per statement. */
import type { Knex } from 'knex';
import type { ScheduleRow } from '../db/tables';

type NewSchedule = Omit<
  ScheduleRow,
  'created_at' | 'updated_at' | 'paused_at' | 'paused_by' | 'pause_note' | 'last_execution_id'
> &
  Partial<Pick<ScheduleRow, 'created_at'>>;

export async function insertSchedule(db: Knex, row: NewSchedule): Promise<ScheduleRow> {
  const [created] = await db<ScheduleRow>('schedules')
    .insert({ ...row, input: JSON.stringify(row.input) as never })
    .returning('*');
  return created;
}

export async function findSchedule(db: Knex, id: string): Promise<ScheduleRow | undefined> {
  return db<ScheduleRow>('schedules').where({ id }).first();
}

/** The schedule, locked until the transaction ends (the firing loop's claims skip it meanwhile). */
export async function lockSchedule(tx: Knex.Transaction, id: string): Promise<ScheduleRow | undefined> {
  return tx<ScheduleRow>('schedules').where({ id }).forUpdate().first();
}

export async function updateScheduleRow(db: Knex, id: string, patch: Partial<ScheduleRow>): Promise<ScheduleRow> {
  const row: Record<string, unknown> = { ...patch, updated_at: db.fn.now() };
  if (patch.input !== undefined) row.input = JSON.stringify(patch.input);
  const [updated] = await db<ScheduleRow>('schedules').where({ id }).update(row).returning('*');
  return updated;
}

/** Moves a schedule on to its next due time, without touching `updated_at` (the user's changes). */
export async function advanceSchedule(
  tx: Knex.Transaction,
  id: string,
  next: { next_slot_at: Date; next_fire_at: Date },
): Promise<void> {
  await tx('schedules').where({ id }).update(next);
}

export async function setLastExecution(tx: Knex.Transaction, id: string, executionId: string): Promise<void> {
  await tx('schedules').where({ id }).update({ last_execution_id: executionId });
}

export async function deleteScheduleRow(db: Knex, id: string): Promise<void> {
  await db('schedules').where({ id }).delete();
}

export async function listScheduleRows(
  db: Knex,
  f: { organizationIds?: readonly string[]; flowId?: string; limit: number; offset: number },
): Promise<{ rows: ScheduleRow[]; total: number }> {
  const base = db<ScheduleRow>('schedules').modify((q) => {
    if (f.organizationIds) q.whereIn('organization_id', f.organizationIds);
    if (f.flowId) q.where('flow_id', f.flowId);
  });
  const [rows, [{ count }]] = await Promise.all([
    base.clone().orderBy('id', 'desc').limit(f.limit).offset(f.offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows, total: Number(count) };
}

/**
 * Claims one schedule whose next time is due at `now`, locked for this transaction; schedules
 * another process is firing are skipped, so two processes never fire the same time.
 */
export async function claimDueSchedule(
  tx: Knex.Transaction,
  now: Date,
  except: string[] = [],
): Promise<ScheduleRow | undefined> {
  return tx<ScheduleRow>('schedules')
    .where('next_fire_at', '<=', now)
    .whereNotIn('id', except)
    .orderBy('next_fire_at')
    .forUpdate()
    .skipLocked()
    .first();
}

/** Claims one schedule with a buffered time whose previous execution has finished. */
export async function claimReleasedBuffer(
  tx: Knex.Transaction,
  except: string[] = [],
): Promise<ScheduleRow | undefined> {
  const row = await tx.raw<{ rows: ScheduleRow[] }>(
    `select s.* from schedules s
      where s.id <> all(?::text[])
        and exists (select 1 from schedule_fires f where f.schedule_id = s.id and f.status = 'buffered')
        and not exists (select 1 from executions e where e.id = s.last_execution_id
                         and e.status not in ('completed', 'failed', 'cancelled'))
      limit 1
      for update of s skip locked`,
    [except],
  );
  return row.rows[0];
}
