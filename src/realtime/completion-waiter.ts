/**
 * The requests of this process that wait for executions to finish (run-and-wait, long polls). The
 * `executions` trigger notifies every execution that became final, after its commit, so a notified
 * id wakes all of its requests with no read (each then reads the execution it answers with).
 * This process's engine also tells of the executions its steps finished, with their committed rows
 * (`FINISHED_HERE`): a request then answers from that row, with no wait for the NOTIFY and no read.
 * Nothing here polls:
 * - a waiter checks the status once right after it is registered, so a finish committed between
 *   the start (or the first read) and the registration is not missed — unless the caller knows it
 *   cannot have finished yet (a start whose first step this process's worker holds);
 * - after the LISTEN connection comes back, every waited execution is checked once, since what was
 *   notified meanwhile is lost.
 * The number of waiting requests is bounded; beyond it a request answers at once.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../log';
import type { ExecutionRow } from '../db/tables';
import { FINISHED_CHANNEL, FINISHED_HERE } from '../repositories/finished-executions.repository';
import type { FinishWaits, WaitOutcome, Woken } from '../services/completions.service';

type Wake = (outcome: WaitOutcome, execution?: ExecutionRow) => void;

/** Which of these executions have finished: one query (`listFinishedExecutionIds`). */
export type FinishedReader = (ids: string[]) => Promise<string[]>;

export class CompletionWaiter implements FinishWaits {
  /** The wake-ups of the requests waiting for each execution. */
  private readonly waiting = new Map<string, Set<Wake>>();
  private count = 0;
  private closed = false;
  private readonly onFinished = (payload: string) => {
    for (const id of payload.split(',')) this.wakeAll(id);
  };
  private readonly onFinishedHere = (execution: ExecutionRow) => this.wakeAll(execution.id, execution);
  private readonly onReconnect = () => {
    if (this.waiting.size > 0) this.check([...this.waiting.keys()]);
  };

  constructor(
    private readonly readFinished: FinishedReader,
    private readonly notifier: Pick<EventEmitter, 'on' | 'off'>,
    private readonly log: Logger,
    private readonly maxWaiting: number,
  ) {
    notifier.on(FINISHED_CHANNEL, this.onFinished);
    notifier.on(FINISHED_HERE, this.onFinishedHere);
    notifier.on('reconnected', this.onReconnect);
  }

  /** How many requests wait now. */
  get size(): number {
    return this.count;
  }

  untilFinished(executionId: string, ms: number, signal: AbortSignal, checkFirst = true): Promise<Woken> {
    if (this.closed || this.count >= this.maxWaiting) return Promise.resolve({ outcome: 'busy' });
    if (signal.aborted) return Promise.resolve({ outcome: 'aborted' });
    return new Promise<Woken>((resolve) => {
      let wakes = this.waiting.get(executionId);
      if (!wakes) this.waiting.set(executionId, (wakes = new Set()));
      const onAbort = () => wake('aborted');
      const timer = setTimeout(() => wake('timeout'), ms);
      const wake: Wake = (outcome, execution) => {
        if (!wakes.delete(wake)) return;
        if (wakes.size === 0 && this.waiting.get(executionId) === wakes) this.waiting.delete(executionId);
        this.count--;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve({ outcome, execution });
      };
      wakes.add(wake);
      this.count++;
      signal.addEventListener('abort', onAbort, { once: true });
      if (checkFirst) this.check([executionId]);
    });
  }

  /** Reads which of `ids` are final, in one query, and wakes everything waiting for those. */
  private check(ids: string[]): void {
    this.readFinished(ids).then(
      (finished) => {
        for (const id of finished) this.wakeAll(id);
      },
      // The wait then runs out and the request answers with what it reads then.
      (err: unknown) => this.log.warn({ err: (err as Error).message }, 'cannot read whether executions finished'),
    );
  }

  private wakeAll(executionId: string, execution?: ExecutionRow): void {
    for (const wake of [...(this.waiting.get(executionId) ?? [])]) wake('finished', execution);
  }

  /** Stops listening; the requests still waiting answer at once with the state they read. */
  close(): void {
    this.closed = true;
    this.notifier.off(FINISHED_CHANNEL, this.onFinished);
    this.notifier.off(FINISHED_HERE, this.onFinishedHere);
    this.notifier.off('reconnected', this.onReconnect);
    for (const wakes of [...this.waiting.values()]) for (const wake of [...wakes]) wake('timeout');
  }
}
