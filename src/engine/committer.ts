/**
 * Commits the plans of finished steps, many per transaction (see Batcher): one statement writes
 * a whole batch (repositories/step-commits.repository.ts).
 */
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import { retryingConflicts } from '../db/transaction';
import type { ExecutionRow, TaskRow } from '../db/tables';
import { writeSteps, type StepWrite } from '../repositories/step-commits.repository';
import { Batcher } from './batcher';
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

  /** Commits the plan with others; `handOver` leases its next task (when due now) to this worker. */
  commit(plan: StepPlan, handOver: boolean): Promise<Committed> {
    return this.batcher.submit(stepWrite(plan, handOver));
  }
}

/** What a plan writes; `handOver` leases its next task (when due now) to the committing worker. */
export function stepWrite(plan: StepPlan, handOver: boolean): StepWrite {
  return {
    ...plan,
    step: { ...plan.step, id: newId('step') },
    next: plan.next && { ...plan.next, leased: handOver && plan.next.runAt === undefined },
  };
}
