/** The schedules' ledger: one row per (schedule, due time). */
import type { Knex } from 'knex';
import type { FireStatus, ScheduleFireRow, SkipReason } from '../db/tables';

export interface NewFire {
  schedule_id: string;
  scheduled_at: Date;
  status: FireStatus;
  reason?: SkipReason | null;
  error?: string | null;
  execution_id?: string | null;
}

/** Records a due time; undefined when the time is in the ledger already (the unique key holds). */
export async function insertFire(tx: Knex.Transaction, row: NewFire): Promise<ScheduleFireRow | undefined> {
  const [inserted] = await tx<ScheduleFireRow>('schedule_fires')
    .insert(row)
    .onConflict(['schedule_id', 'scheduled_at'])
    .ignore()
    .returning('*');
  return inserted;
}

export async function findFire(db: Knex, scheduleId: string, scheduledAt: Date): Promise<ScheduleFireRow | undefined> {
  return db<ScheduleFireRow>('schedule_fires').where({ schedule_id: scheduleId, scheduled_at: scheduledAt }).first();
}

export async function updateFire(
  tx: Knex.Transaction,
  id: string,
  patch: Partial<Pick<ScheduleFireRow, 'status' | 'reason' | 'error' | 'execution_id'>>,
): Promise<ScheduleFireRow> {
  const [row] = await tx<ScheduleFireRow>('schedule_fires')
    .where({ id })
    .update({ ...patch, recorded_at: tx.fn.now() as never })
    .returning('*');
  return row;
}

/** The schedule's buffered time, if any (there is at most one). */
export async function findBufferedFire(tx: Knex.Transaction, scheduleId: string): Promise<ScheduleFireRow | undefined> {
  return tx<ScheduleFireRow>('schedule_fires').where({ schedule_id: scheduleId, status: 'buffered' }).first();
}

export async function listFireRows(
  db: Knex,
  scheduleId: string,
  limit: number,
  offset: number,
): Promise<{ rows: ScheduleFireRow[]; total: number }> {
  const base = db<ScheduleFireRow>('schedule_fires').where({ schedule_id: scheduleId });
  const [rows, [{ count }]] = await Promise.all([
    base.clone().orderBy('scheduled_at', 'desc').limit(limit).offset(offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows, total: Number(count) };
}

/** The `n` latest due times of each schedule, newest first, in one query. */
export async function latestFires(db: Knex, scheduleIds: string[], n: number): Promise<ScheduleFireRow[]> {
  if (scheduleIds.length === 0) return [];
  const { rows } = await db.raw<{ rows: ScheduleFireRow[] }>(
    `select f.* from unnest(?::text[]) as s(id)
       cross join lateral (select * from schedule_fires where schedule_id = s.id
                            order by scheduled_at desc limit ?) f`,
    [scheduleIds, n],
  );
  return rows;
}

/** The due times of a schedule in [from, to], oldest first. */
export async function firesBetween(db: Knex, scheduleId: string, from: Date, to: Date): Promise<ScheduleFireRow[]> {
  return db<ScheduleFireRow>('schedule_fires')
    .where({ schedule_id: scheduleId })
    .whereBetween('scheduled_at', [from, to])
    .orderBy('scheduled_at');
}

/** How many due times the ledger holds, by status and reason (for /metrics). */
export async function countFires(db: Knex): Promise<{ status: string; reason: string | null; count: number }[]> {
  const { rows } = await db.raw<{ rows: { status: string; reason: string | null; count: string }[] }>(
    'select status, reason, count(*) as count from schedule_fires group by status, reason',
  );
  return rows.map((r) => ({ status: r.status, reason: r.reason, count: Number(r.count) }));
}
