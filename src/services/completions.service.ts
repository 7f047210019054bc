/**
 * Run-and-wait and long polls: a request that holds its answer until an execution has finished
 * (completed, failed or cancelled) or its wait runs out. What is answered is read through
 * `ExecutionsService.get`, so permissions and masking are those of the plain GET. The wake-ups come
 * from the process's realtime layer (a `FinishWaits`); without one nobody waits.
 */
import { FINAL_STATUSES, type ExecutionRow } from '../db/tables';
import type { Actor } from './actor';
import type { ExecutionsService, StartRequest } from './executions.service';

/**
 * `finished`: the execution is final; `timeout`: the wait ran out; `aborted`: the caller went
 * away; `busy`: too many requests wait already (or nothing can wake this one), so it did not wait.
 */
export type WaitOutcome = 'finished' | 'timeout' | 'aborted' | 'busy';

/** Where a request waits for one execution to become final. */
/** How a wait ended; `execution` when this process finished it and had its committed row at hand. */
export interface Woken {
  outcome: WaitOutcome;
  execution?: ExecutionRow;
}

export interface FinishWaits {
  /** `checkFirst` false: the caller knows it cannot have finished yet, so no read closes that race. */
  untilFinished(executionId: string, ms: number, signal: AbortSignal, checkFirst?: boolean): Promise<Woken>;
  /** How many requests wait now. */
  readonly size: number;
}

export interface WaitRequest {
  seconds: number;
  /** Aborts when the caller goes away: the wait ends and its place is freed. */
  signal: AbortSignal;
}

export interface Waited {
  /** The execution as `GET` reads it, masked, after the wait. */
  execution: ExecutionRow;
  finished: boolean;
  /** False when the wait was refused (`busy`) and the answer came at once. */
  honoured: boolean;
}

const isFinal = (ex: ExecutionRow) => FINAL_STATUSES.includes(ex.status);

export class CompletionsService {
  private waits: FinishWaits | undefined;

  constructor(private readonly executions: ExecutionsService) {}

  /** The realtime layer hands in this process's wake-ups when it starts, and takes them back when it stops. */
  useWaits(waits: FinishWaits | undefined): void {
    this.waits = waits;
  }

  /** How many requests of this process wait for executions now. */
  waitingRequests(): number {
    return this.waits?.size ?? 0;
  }

  /** Starts (or replays, with an Idempotency-Key) an execution and waits for its end. */
  async startAndWait(actor: Actor, start: StartRequest, wait: WaitRequest): Promise<Waited> {
    const { execution, heldHere } = await this.executions.start(actor, start);
    // Its entry step may have finished it in the start's own commit.
    if (isFinal(execution))
      return { execution: await this.executions.present(actor, execution), finished: true, honoured: true };
    // Only this process's worker can finish a start it holds, and it cannot before the waiter is
    // registered (that happens in this same turn, the finish needs a commit): no read is needed first.
    return this.readAfterWait(actor, execution, wait, !heldHere);
  }

  /** A long poll: the execution once it has finished or the wait ran out. 404 before any wait. */
  async getWhenFinished(actor: Actor, id: string, wait: WaitRequest): Promise<Waited> {
    const execution = await this.executions.get(actor, id);
    if (isFinal(execution) || wait.seconds === 0) return { execution, finished: isFinal(execution), honoured: true };
    return this.readAfterWait(actor, execution, wait);
  }

  private async readAfterWait(
    actor: Actor,
    before: ExecutionRow,
    wait: WaitRequest,
    checkFirst = true,
  ): Promise<Waited> {
    const woken: Woken =
      wait.seconds > 0
        ? await (this.waits?.untilFinished(before.id, wait.seconds * 1000, wait.signal, checkFirst) ?? {
            outcome: 'busy',
          })
        : { outcome: 'timeout' };
    // The row this process committed when it finished it; else read again, even after a timeout
    // (it may have finished at the last moment). Either way, what leaves the service is what `get`
    // answers, masked (the start's row is not).
    const execution = woken.execution
      ? await this.executions.present(actor, woken.execution)
      : await this.executions.get(actor, before.id);
    return { execution, finished: isFinal(execution), honoured: woken.outcome !== 'busy' };
  }
}
