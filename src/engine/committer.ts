/**
 * Commits the plans of finished steps, many per transaction (see Batcher): one statement writes
 * a whole batch (repositories/step-commits.repository.ts). And the steps of foreach iterations
 * that commit in a transaction (their ends), many per transaction too.
 */
import type { Db, Tx } from '../db/knex';
import { newId } from '../db/ids';
import { inTransaction, retryingConflicts } from '../db/transaction';
import type { ExecutionRow, TaskRow } from '../db/tables';
import type { ClaimedTask } from '../repositories/tasks.repository';
import type { ItemEnd } from '../repositories/foreach.repository';
import { writeSteps, type StepWrite } from '../repositories/step-commits.repository';
import { Batcher } from './batcher';
import { itemEndOf } from './foreach-commit';
import { iterationsEnded } from './lifecycle';
import type { StepPlan } from './step-commit';

/** Bounded by the NOTIFY payload, which names every execution of a batch. */
const MAX_BATCH = 100;
/** Batches written at once: a chain's next step waits for its batch's commit, so one at a time would leave the process idle. */
const IN_FLIGHT = 4;

export interface Committed {
  /** False when the worker no longer held the task or the execution had finished: nothing was written. */
  applied: boolean;
  /** The next task, leased to this worker when it was handed over. */
  next?: TaskRow;
  /** The execution as committed, when this step finished it. */
  finished?: ExecutionRow;
  /** Iterations its foreach started in its place, leased to this worker (IterationCommitter). */
  started?: ClaimedTask[];
}

export class StepCommitter {
  private readonly batcher: Batcher<StepWrite, Committed>;

  constructor(db: Db, owner: string, leaseMs: number) {
    this.batcher = new Batcher(
      async (writes) => {
        const out = await retryingConflicts(() => writeSteps(db, owner, leaseMs, writes));
        return writes.map((_, k) => ({
          applied: out.applied.has(k),
          next: out.next.get(k),
          finished: out.finished.get(k),
        }));
      },
      MAX_BATCH,
      IN_FLIGHT,
    );
  }

  /** Commits the plans (steps of one execution, in order) with others; `handOver` leases the next task (when due now) to this worker. */
  commit(plans: StepPlan[], handOver: boolean): Promise<Committed> {
    return this.batcher.submit(stepWrite(plans, handOver));
  }
}

/** A foreach iteration's step that commits in a transaction: it writes in `tx`, and puts its iteration's end, if it ends, in `ends`. */
type IterationCommit = (tx: Tx, ends: ItemEnd[]) => Promise<void>;

/**
 * What an iteration commits with its siblings: the plans of its last steps (as one write), or a
 * step that needs a transaction; `handOver`: the iterations started in its place may be leased to
 * this worker (not while it stops).
 */
type IterationWork = ({ write: StepWrite } | { commit: IterationCommit }) & { handOver: boolean };

/** Iterations' steps in one transaction: their transactions wait on the parent's lock in turn, so few at once. */
const MAX_ITERATION_BATCH = 64;
const ITERATION_IN_FLIGHT = 2;

/**
 * Commits the steps that end foreach iterations (and iterations' other steps that need a
 * transaction), many in one: the plans in one statement as the step batches do, then the others,
 * and then each foreach moves on once for all of its iterations that ended (`iterationsEnded`), so
 * siblings that end together take their parent's row lock once, instead of queueing on it one
 * transaction each. A batch that fails is committed again one step at a time (Batcher), so one
 * bad step fails alone.
 */
export class IterationCommitter {
  private readonly batcher: Batcher<IterationWork, Committed>;

  constructor(db: Db, owner: string, leaseMs: number) {
    this.batcher = new Batcher(
      (works) =>
        inTransaction(db, async (tx) => {
          const ends: ItemEnd[] = [];
          // The works whose iteration ended, in the order of `ends`.
          const ending: number[] = [];
          const out: Committed[] = works.map(() => ({ applied: true }));
          const plans = works.flatMap((w, k) => ('write' in w ? [{ k, write: w.write }] : []));
          if (plans.length > 0) {
            const written = await writeSteps(
              tx,
              owner,
              leaseMs,
              plans.map((p) => p.write),
            );
            plans.forEach(({ k }, j) => {
              const finished = written.finished.get(j);
              out[k] = { applied: written.applied.has(j), next: written.next.get(j), finished };
              if (!finished) return;
              ends.push(itemEndOf(finished.id, finished.status, finished.result, finished.error));
              ending.push(k);
            });
          }
          for (const [k, w] of works.entries()) {
            if (!('commit' in w)) continue;
            const before = ends.length;
            await w.commit(tx, ends);
            for (let n = before; n < ends.length; n++) ending.push(k);
          }
          // Each iteration started in place of one that ended goes on in the slot that ran that one.
          const handOver = works.every((w) => w.handOver) ? { owner, leaseMs } : undefined;
          const started = await iterationsEnded(tx, ends, handOver);
          started.forEach((claimed, n) => {
            const k = ending[n % ending.length];
            out[k] = { ...out[k], started: [...(out[k].started ?? []), claimed] };
          });
          return out;
        }),
      MAX_ITERATION_BATCH,
      ITERATION_IN_FLIGHT,
    );
  }

  /** Commits the plans of an iteration's last steps (the last one ends it). */
  commitPlans(plans: StepPlan[], handOver: boolean): Promise<Committed> {
    return this.batcher.submit({ write: stepWrite(plans, false), handOver });
  }

  /** Commits an iteration's step in the batch's transaction. */
  commit(commit: IterationCommit, handOver: boolean): Promise<Committed> {
    return this.batcher.submit({ commit, handOver });
  }
}

/**
 * What the plans of one execution's consecutive steps write, as one: each step's row, every
 * event in order, the outputs and values merged, and the last step's state and next task;
 * `handOver` leases that task (when due now) to the committing worker.
 */
export function stepWrite(plans: StepPlan[], handOver: boolean): StepWrite {
  const first = plans[0];
  const last = plans[plans.length - 1];
  const latest = <T>(pick: (p: StepPlan) => T | null): T | null => plans.reduce<T | null>((v, p) => pick(p) ?? v, null);
  const merged = (pick: (p: StepPlan) => Record<string, unknown> | null) =>
    plans.some((p) => pick(p)) ? Object.assign({}, ...plans.map(pick)) : null;
  return {
    taskId: first.taskId,
    executionId: first.executionId,
    status: latest((p) => p.status),
    startedAt: plans.find((p) => p.startedAt)?.startedAt ?? null,
    currentNode: last.currentNode,
    nodeStartedAt: latest((p) => p.nodeStartedAt),
    outputs: merged((p) => p.outputs),
    values: merged((p) => p.values),
    result: last.result,
    error: last.error,
    completedAt: latest((p) => p.completedAt),
    events: plans.flatMap((p) => p.events),
    steps: plans.map((p) => ({ ...p.step, id: newId('step') })),
    next: last.next && { ...last.next, leased: handOver && last.next.runAt === undefined },
  };
}
