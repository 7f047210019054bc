import type { Knex } from 'knex';
import type { EventRow } from '../db/tables';

export const EVENTS_CHANNEL = 'flowrunner_events';
export const DELIVERIES_CHANNEL = 'flowrunner_deliveries';

export interface NewEvent {
  type: 'execution_update' | 'node_started' | 'node_completed' | 'execution_completed' | 'execution_failed' | 'log';
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
  // One statement: take the next seqs under the execution row's lock, insert, queue a delivery
  // for every listener of the execution or its flow that wants the type, and notify.
  await tx.raw(
    `with seq as (
       update executions set event_seq = event_seq + ? where id = ? returning event_seq
     ), ins as (
       insert into events (execution_id, seq, type, level, payload, created_at)
       select ?, seq.event_seq - ? + u.ord, u.type, u.level, u.payload, u.created_at
         from seq, unnest(?::text[], ?::text[], ?::jsonb[], ?::timestamptz[]) with ordinality as u(type, level, payload, created_at, ord)
       returning id, seq, type
     ), dl as (
       insert into deliveries (listener_id, event_id)
       select l.id, ins.id from ins
         join listeners l on (l.execution_id = ? or l.flow_id = (select flow_id from executions where id = ?))
        where l.events is null or ins.type = any(l.events)
        order by ins.seq, l.id
       returning 1
     )
     select pg_notify(?, ? || ':' || (select max(seq) from ins)), (select pg_notify(?, '') from dl limit 1)`,
    [
      events.length,
      executionId,
      executionId,
      events.length,
      events.map((e) => e.type),
      events.map((e) => e.level ?? null) as string[],
      events.map((e) => JSON.stringify(e.payload)),
      events.map((e) => (e.at ?? new Date()).toISOString()),
      executionId,
      executionId,
      EVENTS_CHANNEL,
      executionId,
      DELIVERIES_CHANNEL,
    ],
  );
}

export async function listEventRows(
  db: Knex,
  executionId: string,
  sinceSeq: number,
  limit: number,
): Promise<EventRow[]> {
  return db<EventRow>('events')
    .where({ execution_id: executionId })
    .where('seq', '>', sinceSeq)
    .orderBy('seq')
    .limit(limit);
}

export async function listLogRows(
  db: Knex,
  executionId: string,
  level: string | undefined,
  limit: number,
  offset: number,
): Promise<{ rows: EventRow[]; total: number }> {
  const base = db<EventRow>('events')
    .where({ execution_id: executionId, type: 'log' })
    .modify((q) => {
      if (level) q.where('level', level);
    });
  const [rows, [{ count }]] = await Promise.all([
    base.clone().orderBy('seq').limit(limit).offset(offset),
    base.clone().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { rows, total: Number(count) };
}

/** Inserts events with the seqs and times they already have (an imported run's history). */
export async function insertEventRows(tx: Knex.Transaction, rows: Omit<EventRow, 'id'>[]): Promise<void> {
  if (rows.length === 0) return;
  await tx('events').insert(rows.map((r) => ({ ...r, payload: JSON.stringify(r.payload) })));
}

/**
 * Someone who reads an execution's events: their account, the last seq they have, and whether
 * they may see the execution without a share (its owner, an admin).
 */
export interface EventReader {
  accountId: string;
  after: number;
  canSee: boolean;
}

/**
 * For many readers of one execution, in one statement: which of their accounts it is shared with,
 * and its events after the furthest-behind reader who may see it (none when no reader may).
 */
export async function listEventRowsForReaders(
  db: Knex,
  executionId: string,
  readers: EventReader[],
  limit: number,
): Promise<{ sharedWith: string[]; rows: EventRow[] }> {
  const result = await db.raw(
    `with shared as (
       select array(select s.account_id from execution_shares s
                     where s.execution_id = ? and s.account_id = any(?::text[])) as ids
     ), since as (
       select min(r.after) as seq
         from shared, unnest(?::text[], ?::int[], ?::boolean[]) as r(account_id, after, can_see)
        where r.can_see or r.account_id = any(shared.ids)
     )
     select shared.ids as shared_with, e.*
       from shared cross join since
       left join lateral (
         select * from events where execution_id = ? and seq > since.seq order by seq limit ?
       ) e on true
      order by e.seq`,
    [
      executionId,
      readers.map((r) => r.accountId),
      readers.map((r) => r.accountId),
      readers.map((r) => r.after),
      readers.map((r) => r.canSee),
      executionId,
      limit,
    ],
  );
  const found = result.rows as (EventRow & { shared_with: string[] })[];
  return {
    sharedWith: found[0]?.shared_with ?? [],
    rows: found.filter((r) => r.id !== null).map(({ shared_with: _, ...event }) => event),
  };
}
