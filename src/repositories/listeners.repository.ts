import type { Knex } from 'knex';
import type { DeliveryRow, EventRow, ListenerRow } from '../db/tables';
import { DELIVERIES_CHANNEL } from './events.repository';
import { inTransaction } from '../db/transaction';

export async function insertListener(
  db: Knex,
  row: Omit<ListenerRow, 'created_at' | 'last_delivery_status' | 'last_delivery_at'>,
): Promise<ListenerRow> {
  const [created] = await db<ListenerRow>('listeners').insert(row).returning('*');
  return created;
}

/**
 * Takes the execution row's lock before a listener is added to it. Taken first, before the
 * listener's insert takes its foreign-key share lock on the same row: two transactions that each
 * held the share lock and then both asked for this one would deadlock.
 */
export async function lockExecutionForListeners(tx: Knex.Transaction, executionId: string): Promise<void> {
  await tx('executions').where({ id: executionId }).forUpdate().first('id');
}

/** Queues the execution's existing events for a new listener (under `lockExecutionForListeners`). */
export async function backfillDeliveries(tx: Knex.Transaction, listener: ListenerRow): Promise<void> {
  await tx.raw(
    `insert into deliveries (listener_id, event_id)
     select ?, e.id from events e where e.execution_id = ? and (?::text[] is null or e.type = any(?::text[])) order by e.seq`,
    [listener.id, listener.execution_id, listener.events, listener.events],
  );
  await tx.raw('select pg_notify(?, ?)', [DELIVERIES_CHANNEL, '']);
}

export async function listListenerRows(
  db: Knex,
  target: { execution_id: string } | { flow_id: string },
): Promise<ListenerRow[]> {
  return db<ListenerRow>('listeners').where(target).orderBy('id');
}

export async function deleteListenerRow(
  db: Knex,
  id: string,
  target: { execution_id: string } | { flow_id: string },
): Promise<boolean> {
  return (
    (await db('listeners')
      .where({ id, ...target })
      .delete()) > 0
  );
}

/**
 * Claims due deliveries that are each the oldest pending one of their listener (so a listener
 * gets its events in order), under a lock that expires if this process dies.
 */
export async function claimDeliveries(db: Knex, limit: number, lockSeconds: number): Promise<DeliveryRow[]> {
  const result = await db.raw(
    `update deliveries d set locked_until = now() + make_interval(secs => ?), attempts = d.attempts + 1
      where d.id in (
        select p.id from deliveries p
         where p.delivered_at is null and p.failed_at is null and p.next_attempt_at <= now()
           and (p.locked_until is null or p.locked_until < now())
           and not exists (select 1 from deliveries e where e.listener_id = p.listener_id and e.id < p.id and e.delivered_at is null and e.failed_at is null)
         order by p.id limit ? for update skip locked)
      returning d.*`,
    [lockSeconds, limit],
  );
  return result.rows as DeliveryRow[];
}

export async function findDeliveryParts(
  db: Knex,
  d: DeliveryRow,
): Promise<{ listener: ListenerRow; event: EventRow } | undefined> {
  const [listener, event] = await Promise.all([
    db<ListenerRow>('listeners').where({ id: d.listener_id }).first(),
    db<EventRow>('events').where({ id: d.event_id }).first(),
  ]);
  return listener && event ? { listener, event } : undefined;
}

export async function markDelivered(db: Knex, d: DeliveryRow, status: number): Promise<void> {
  await inTransaction(db, async (tx) => {
    await tx('deliveries')
      .where({ id: d.id })
      .update({ delivered_at: tx.fn.now(), locked_until: null, last_status: status, last_error: null });
    await tx('listeners')
      .where({ id: d.listener_id })
      .update({ last_delivery_status: 'delivered', last_delivery_at: tx.fn.now() });
  });
}

/** Schedules the next attempt, or gives up once `giveUp` is set. */
export async function markFailed(
  db: Knex,
  d: DeliveryRow,
  error: string,
  status: number | null,
  retryInMs: number,
  giveUp: boolean,
): Promise<void> {
  await inTransaction(db, async (tx) => {
    await tx('deliveries')
      .where({ id: d.id })
      .update({
        locked_until: null,
        last_status: status,
        last_error: error,
        next_attempt_at: tx.raw('now() + make_interval(secs => ?)', [retryInMs / 1000]),
        failed_at: giveUp ? tx.fn.now() : null,
      });
    await tx('listeners')
      .where({ id: d.listener_id })
      .update({
        last_delivery_status: giveUp ? `gave up: ${error}` : `retrying: ${error}`,
        last_delivery_at: tx.fn.now(),
      });
  });
}

export async function nextDeliveryAt(db: Knex): Promise<Date | undefined> {
  const row = await db('deliveries')
    .whereNull('delivered_at')
    .whereNull('failed_at')
    .min<{ min: Date | null }>({ min: 'next_attempt_at' })
    .first();
  return row?.min ?? undefined;
}
