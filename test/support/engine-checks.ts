/** Checks over many executions at once, read from the database: the engine's promises, counted. */
import { expect } from 'chai';
import type { Knex } from '../../src/db/knex';
import type { ClaimedTask } from '../../src/repositories/tasks.repository';
import { eventually } from './eventually';
import type { TestAccount } from './factories';
import type { TestServer } from './server';

/** Starts one execution per input through `owner`'s client, all at once; their ids in input order. */
export async function startAll(
  owner: TestAccount,
  flowId: string,
  inputs: Record<string, unknown>[],
): Promise<string[]> {
  const started = await Promise.all(
    inputs.map((input) => owner.client.executions.runFlow({ id: flowId, runFlowRequest: { input } })),
  );
  return started.map((r) => r.data.execution_id);
}

/** Waits until every execution has ended; fails at once, saying why, if one did not complete. */
export async function waitForAll(db: Knex, ids: string[], timeout = 120_000): Promise<void> {
  await eventually(
    async () => {
      const ended = await db('executions')
        .whereIn('id', ids)
        .whereIn('status', ['completed', 'failed', 'cancelled'])
        .select('id', 'status', 'error');
      const bad = ended.filter((e) => e.status !== 'completed');
      if (bad.length > 0) return bad;
      return ended.length === ids.length;
    },
    { timeout, interval: 100, what: `all ${ids.length} executions to end` },
  ).then((bad) => expect(bad === true ? [] : bad, 'executions that did not complete').to.deep.equal([]));
}

/** Per execution, its events' seqs in the order they were written. */
export async function eventSeqs(db: Knex, ids: string[]): Promise<Map<string, number[]>> {
  const rows = await db('events').whereIn('execution_id', ids).orderBy('id').select('execution_id', 'seq');
  const seqs = new Map(ids.map((id) => [id, [] as number[]]));
  for (const r of rows) seqs.get(r.execution_id)!.push(Number(r.seq));
  return seqs;
}

/** The executions whose events are not numbered 1..n in the order they were written. */
export async function gappedEvents(db: Knex, ids: string[]): Promise<{ id: string; seqs: number[] }[]> {
  const seqs = await eventSeqs(db, ids);
  return [...seqs]
    .filter(([, s]) => s.length === 0 || s.some((seq, k) => seq !== k + 1))
    .map(([id, s]) => ({ id, seqs: s }));
}

/** Per execution and node, how many completed steps there are, where that is not exactly one. */
export async function stepsNotOnce(db: Knex, ids: string[], nodes: string[]): Promise<string[]> {
  const rows: { execution_id: string; node_id: string; status: string; n: string }[] = await db('steps')
    .whereIn('execution_id', ids)
    .select('execution_id', 'node_id', 'status')
    .count({ n: '*' })
    .groupBy('execution_id', 'node_id', 'status');
  const count = new Map(rows.map((r) => [`${r.execution_id} ${r.node_id} ${r.status}`, Number(r.n)]));
  const wrong: string[] = [];
  for (const id of ids)
    for (const node of nodes) {
      const n = count.get(`${id} ${node} completed`) ?? 0;
      if (n !== 1) wrong.push(`${id} ${node}: ${n} completed steps`);
    }
  for (const r of rows) if (r.status !== 'completed') wrong.push(`${r.execution_id} ${r.node_id}: a ${r.status} step`);
  return wrong;
}

/** Counts the tasks a worker takes by claiming (starts and next steps handed over in memory skip it). */
export function countClaims(server: TestServer): () => number {
  const worker = server.engine.worker!;
  const adopt = worker.adopt.bind(worker);
  let claimed = 0;
  worker.adopt = (tasks: ClaimedTask[]) => {
    claimed += tasks.length;
    adopt(tasks);
  };
  return () => claimed;
}
