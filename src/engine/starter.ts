/**
 * Starts executions many per transaction (see Batcher): each caller's start is committed before
 * its promise resolves. When this process runs a worker with room, the entry tasks are leased to
 * it in the same statement and handed over in memory after the commit: no claim, no NOTIFY. If
 * the process dies first, the leases expire and any worker takes the tasks.
 *
 * A start whose entry node may run in memory (inline.ts: it computes from its context alone, over
 * plain expressions) runs that node — and the ones after it that may too — before anything is
 * written, on the row its start would insert (`queuedClaim`), and the execution is inserted as
 * those steps leave it — start event, steps, their events, next task — by one statement
 * (`insertSteppedStarts`): a one-node flow is started and finished by one commit, with no task
 * written and no transaction to open, and a run-and-wait call answers from the row it committed.
 */
import type { Db } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { retryingConflicts } from '../db/transaction';
import { insertStarts, insertSteppedStarts, queuedClaim, type NewStart } from '../repositories/starts.repository';
import type { ClaimedTask } from '../repositories/tasks.repository';
import { Batcher } from './batcher';
import { stepWrite } from './committer';
import type { StepPlan } from './step-commit';

export { startsInline } from './inline';

const MAX_BATCH = 100;
const IN_FLIGHT = 2;

/** The worker of this process, as the starter sees it. */
export interface LocalWorker {
  readonly id: string;
  /** How many tasks it would take now. */
  readonly room: number;
  adopt(claimed: ClaimedTask[]): void;
  planInline(claimed: ClaimedTask): Promise<StepPlan[] | undefined>;
  finishedHere(execution: ExecutionRow): void;
}

export interface PlainStart extends Omit<NewStart, 'leased_to'> {
  /** Its entry node may run before the start commits (`startsInline`). */
  inline: boolean;
}

/**
 * A committed start; `heldHere` when this process's worker holds its next task (so only it can
 * finish it before the lease runs out). An execution whose entry step committed with its start
 * may already be final.
 */
export interface Started {
  execution: ExecutionRow;
  heldHere: boolean;
}

export class ExecutionStarter {
  private worker: LocalWorker | undefined;
  private readonly batcher: Batcher<PlainStart, Started>;

  constructor(
    private readonly db: Db,
    private readonly leaseMs: number,
    /** Off: every entry step goes to the worker (FLOWRUNNER_INLINE_STARTS=false). */
    private readonly inlineSteps = true,
  ) {
    this.batcher = new Batcher((starts) => this.write(starts), MAX_BATCH, IN_FLIGHT);
  }

  private async write(starts: PlainStart[]): Promise<Started[]> {
    const worker = this.worker;
    const room = worker?.room ?? 0;
    const rows: NewStart[] = starts.map(({ inline: _, ...s }, i) => ({
      ...s,
      leased_to: i < room ? worker!.id : null,
    }));
    const createdAt = new Date();
    // Entry steps that may run here run first; each that planned is written with its start.
    const plans =
      this.inlineSteps && worker
        ? await Promise.all(
            rows.map((row, i) =>
              row.leased_to !== null && starts[i].inline
                ? worker.planInline(queuedClaim(row, createdAt)).catch(() => undefined)
                : undefined,
            ),
          )
        : [];
    const started: Started[] = new Array(starts.length);
    const adopted: ClaimedTask[] = [];
    const plain: number[] = [];
    const stepped: number[] = [];
    rows.forEach((_, i) => (plans[i] ? stepped : plain).push(i));
    const writeStepped = async (): Promise<void> => {
      if (stepped.length === 0) return;
      const outcomes = await retryingConflicts(() =>
        insertSteppedStarts(
          this.db,
          worker!.id,
          this.leaseMs,
          stepped.map((i) => ({ start: rows[i], createdAt, step: stepWrite(plans[i]!, true) })),
        ),
      ).catch(() => undefined);
      // A step the database refuses (a value jsonb can't hold) must not fail its start: it is then
      // started without it, and the worker runs the entry node as any other.
      if (!outcomes) return void plain.push(...stepped);
      stepped.forEach((i, k) => {
        const { next, finished } = outcomes[k];
        if (finished) {
          worker!.finishedHere(finished);
          started[i] = { execution: finished, heldHere: false };
          return;
        }
        const after = plans[i]!.at(-1)!.after;
        const held = next?.lease_owner === worker!.id;
        if (held) adopted.push({ task: next!, execution: after });
        started[i] = { execution: after, heldHere: held };
      });
    };
    await writeStepped();
    if (plain.length > 0) {
      const claimed = await retryingConflicts(() =>
        insertStarts(
          this.db,
          plain.map((i) => rows[i]),
          this.leaseMs,
        ),
      );
      plain.forEach((i, k) => {
        const c = claimed[k];
        const held = !!worker && c.task.lease_owner === worker.id;
        if (held) adopted.push(c);
        started[i] = { execution: c.execution, heldHere: held };
      });
    }
    if (worker && adopted.length > 0) worker.adopt(adopted);
    return started;
  }

  /** The worker that takes entry tasks over in memory; none in an API-only process or when stopping. */
  handOverTo(worker: LocalWorker | undefined): void {
    this.worker = worker;
  }

  /** Commits a queued execution with its first event and its entry task; resolves after the commit. */
  start(start: PlainStart): Promise<Started> {
    return this.batcher.submit(start);
  }
}
