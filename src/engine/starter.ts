/**
 * Starts executions many per transaction (see Batcher): each caller's start is committed before
 * its promise resolves. When this process runs a worker with room, the entry tasks are leased to
 * it in the same statement and handed over in memory after the commit: no claim, no NOTIFY. If
 * the process dies first, the leases expire and any worker takes the tasks.
 */
import type { Db } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { retryingConflicts } from '../db/transaction';
import { insertStarts, type NewStart } from '../repositories/starts.repository';
import type { ClaimedTask } from '../repositories/tasks.repository';
import { Batcher } from './batcher';

const MAX_BATCH = 100;
const IN_FLIGHT = 1;

/** The worker of this process, as the starter sees it. */
export interface LocalWorker {
  readonly id: string;
  /** How many tasks it would take now. */
  readonly room: number;
  adopt(claimed: ClaimedTask[]): void;
}

export type PlainStart = Omit<NewStart, 'leased_to'>;

/** A committed start; `heldHere` when this process's worker holds its entry task (so only it can finish it before the lease runs out). */
export interface Started {
  execution: ExecutionRow;
  heldHere: boolean;
}

export class ExecutionStarter {
  private worker: LocalWorker | undefined;
  private readonly batcher: Batcher<PlainStart, Started>;

  constructor(db: Db, leaseMs: number) {
    this.batcher = new Batcher(
      async (starts) => {
        const worker = this.worker;
        const room = worker?.room ?? 0;
        const rows = starts.map((s, i) => ({ ...s, leased_to: i < room ? worker!.id : null }));
        const claimed = await retryingConflicts(() => insertStarts(db, rows, leaseMs));
        if (worker) worker.adopt(claimed.filter((c) => c.task.lease_owner === worker.id));
        return claimed.map((c) => ({ execution: c.execution, heldHere: !!worker && c.task.lease_owner === worker.id }));
      },
      MAX_BATCH,
      IN_FLIGHT,
    );
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
