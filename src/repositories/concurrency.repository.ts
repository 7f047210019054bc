/**
 * Concurrency limits: the (flow, key) lock row, the slots its executions hold or wait for, and
 * what a waiting execution's reason shows. Releases happen in the database (the
 * `executions_release_slot` trigger), in the statement that makes an execution final.
 */
import type { Knex } from 'knex';

export interface SlotRow {
  execution_id: string;
  flow_id: string;
  key: string;
  holding: boolean;
  entry: string;
  seq: string;
}

/**
 * Creates or updates the key's row with the limit of this start's version and locks it until
 * the transaction ends: admissions and releases of one key happen one at a time.
 */
export async function lockConcurrencyKey(
  tx: Knex.Transaction,
  flowId: string,
  key: string,
  limit: number,
): Promise<void> {
  await tx.raw(
    `insert into concurrency_keys (flow_id, key, "limit") values (?, ?, ?)
     on conflict (flow_id, key) do update set "limit" = excluded."limit"`,
    [flowId, key, limit],
  );
}

/** The executions that hold a slot of the key, oldest first. */
export async function listSlotHolders(db: Knex, flowId: string, key: string): Promise<string[]> {
  const rows = await db('concurrency_slots')
    .where({ flow_id: flowId, key, holding: true })
    .orderBy('seq')
    .select('execution_id');
  return rows.map((r: { execution_id: string }) => r.execution_id);
}

/** Records that an execution holds a slot of its key (`holding`) or waits for one, in arrival order. */
export async function insertSlot(
  tx: Knex.Transaction,
  slot: { execution_id: string; flow_id: string; key: string; holding: boolean; entry: string },
): Promise<void> {
  await tx('concurrency_slots').insert(slot);
}

/** An execution's slot with, for one that waits, its place in its key's line (1 = next). */
export async function findSlot(
  db: Knex,
  executionId: string,
): Promise<(SlotRow & { position: number; limit: number }) | undefined> {
  const result = await db.raw(
    `select s.*, k."limit",
            (select count(*) from concurrency_slots w
              where w.flow_id = s.flow_id and w.key = s.key and not w.holding and w.seq <= s.seq)::int as position
       from concurrency_slots s
       join concurrency_keys k on k.flow_id = s.flow_id and k.key = s.key
      where s.execution_id = ?`,
    [executionId],
  );
  return result.rows[0];
}

/** How many executions hold a slot of each key of a flow (for tests and diagnostics). */
export async function countHolding(db: Knex, flowId: string): Promise<Record<string, number>> {
  const rows = await db('concurrency_slots')
    .where({ flow_id: flowId, holding: true })
    .groupBy('key')
    .select('key')
    .count<{ key: string; count: string }[]>('* as count');
  return Object.fromEntries(rows.map((r) => [r.key, Number(r.count)]));
}
