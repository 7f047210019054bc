import type { Knex } from 'knex';
import type { EventRow } from '../db/tables';

export const EVENTS_CHANNEL = 'flowrunner_events';

export interface NewEvent {
  type: 'execution_update' | 'node_completed' | 'execution_completed' | 'execution_failed' | 'log';
  level?: string;
  payload: Record<string, unknown>;
  at?: Date;
}

/**
 * Appends events with the next sequence numbers. Numbering takes the execution row's lock, so
 * seqs have no gaps and no duplicates even with several writers.
 */
export async function appendEvents(tx: Knex.Transaction, executionId: string, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const [{ event_seq: last }] = await tx('executions').where({ id: executionId }).increment('event_seq', events.length).returning('event_seq');
  const first = last - events.length + 1;
  await tx('events').insert(
    events.map((e, i) => ({
      execution_id: executionId,
      seq: first + i,
      type: e.type,
      level: e.level ?? null,
      payload: JSON.stringify(e.payload),
      created_at: e.at ?? new Date(),
    })),
  );
  await tx.raw('select pg_notify(?, ?)', [EVENTS_CHANNEL, `${executionId}:${last}`]);
}

export async function listEventRows(db: Knex, executionId: string, sinceSeq: number, limit: number): Promise<EventRow[]> {
  return db<EventRow>('events').where({ execution_id: executionId }).where('seq', '>', sinceSeq).orderBy('seq').limit(limit);
}

export async function listLogRows(db: Knex, executionId: string, level: string | undefined, limit: number, offset: number): Promise<{ rows: EventRow[]; total: number }> {
  const base = db<EventRow>('events').where({ execution_id: executionId, type: 'log' }).modify((q) => {
    if (level) q.where('level', level);
  });
  const [rows, [{ count }]] = await Promise.all([base.clone().orderBy('seq').limit(limit).offset(offset), base.clone().count<{ count: number }[]>({ count: '*' })]);
  return { rows, total: Number(count) };
}
