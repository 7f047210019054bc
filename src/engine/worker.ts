/**
 * Claims runnable tasks and runs up to `concurrency` at once. Tasks also arrive in memory: the
 * next step of a step this worker committed, and starts made in this process, are leased to it in
 * the transaction that creates them and handed over here after the commit (no claim, no NOTIFY);
 * if the process dies, their leases expire and the reaper returns them to every worker. Woken by
 * NOTIFY, with a poll as fallback; renews its leases while it holds tasks; on stop it claims
 * nothing more, lets running steps finish for a grace period, then aborts them and releases the
 * leases of everything it still holds for another worker.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from '../log';
import {
  claimTasks,
  nextRunAt,
  reapExpiredLeases,
  releaseLeases,
  renewLeases,
  TASKS_CHANNEL,
  type ClaimedTask,
} from '../repositories/tasks.repository';
import type { Db } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { CANCEL_CHANNEL } from '../repositories/executions.repository';
import { ABORT_TASKS_CHANNEL } from '../repositories/branches.repository';
import { isDatabaseUnavailable } from '../db/errors';
import { Alarm } from './alarm';
import type { Notifier } from './notifier';
import { ReadyQueue } from './ready-queue';
import { LeaseLostError, SHUTDOWN, type StepRunner } from './runner';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 5000;

export function newWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
}

interface InFlight {
  task: ClaimedTask['task'];
  abort: AbortController;
  done: Promise<void>;
}

export class Worker {
  private readonly inflight = new Map<string, InFlight>();
  /**
   * Steps running their node. A step whose node is done and that waits for its batch's commit
   * holds its lease (it stays in `inflight`) but not a slot: concurrency bounds the work nodes do,
   * and a chain's next steps are what fills the next batch.
   */
  private executing = 0;
  /** Leased to this worker, not started yet. */
  private readonly ready = new ReadyQueue<ClaimedTask>();
  private running = false;
  private readonly alarm = new Alarm();
  private loopDone: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Whether a claim may find something: after a NOTIFY, at a poll, after a claim that came back full. */
  private claimable = true;
  /** The next poll: a claim at least this often, and when the next delayed task falls due. */
  private pollAt = 0;
  /** The account of the last task claimed: the next claim starts with the account after it. */
  private lastAccount = '';
  private readonly onTask = () => {
    this.claimable = true;
    this.alarm.wake();
  };
  private readonly onCancel = (executionId: string) => {
    for (const f of this.inflight.values()) if (f.task.execution_id === executionId) f.abort.abort();
    // A task of a cancelled execution that has not started must not start: its row is gone.
    const held = this.ready.clear();
    for (const c of held) if (c.task.execution_id !== executionId) this.ready.push(c.task.account_id, c);
  };

  /** Branches a join cancelled: their running steps abort, their held tasks are dropped (their rows are gone). */
  private readonly onAbortTasks = (payload: string) => {
    const ids = new Set(payload.split(','));
    for (const f of this.inflight.values()) if (ids.has(String(f.task.id))) f.abort.abort();
    const held = this.ready.clear();
    for (const c of held) if (!ids.has(String(c.task.id))) this.ready.push(c.task.account_id, c);
  };

  constructor(
    private readonly db: Db,
    private readonly runner: StepRunner,
    private readonly notifier: Notifier,
    private readonly opts: { concurrency: number; leaseMs: number; log: Logger },
  ) {}

  get id(): string {
    return this.runner.workerId;
  }

  start(): void {
    this.running = true;
    this.notifier.on(TASKS_CHANNEL, this.onTask);
    this.notifier.on('reconnected', this.onTask);
    this.notifier.on(CANCEL_CHANNEL, this.onCancel);
    this.notifier.on(ABORT_TASKS_CHANNEL, this.onAbortTasks);
    this.heartbeat = setInterval(
      () => {
        renewLeases(this.db, this.id, this.heldTaskIds(), this.opts.leaseMs).catch((err) =>
          this.opts.log.warn({ err: err.message }, 'lease renewal failed'),
        );
      },
      Math.max(200, Math.floor(this.opts.leaseMs / 3)),
    );
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      let sleepMs: number;
      let failed = false;
      try {
        if (Date.now() >= this.pollAt) {
          this.pollAt = Date.now() + POLL_MS;
          this.claimable = true;
          await reapExpiredLeases(this.db);
        }
        const capacity = this.opts.concurrency - this.executing - this.ready.size;
        if (capacity > 0 && this.claimable) {
          this.claimable = false;
          const claimed = await claimTasks(this.db, this.id, capacity, this.opts.leaseMs, this.lastAccount);
          if (claimed.length > 0) this.lastAccount = claimed[claimed.length - 1].task.account_id;
          this.adopt(claimed);
          if (claimed.length === capacity) this.claimable = true;
          else {
            // Nothing more is due now: the next poll comes when the next delayed task does, at the latest.
            const next = await nextRunAt(this.db);
            if (next) this.pollAt = Math.min(this.pollAt, next.getTime());
          }
        }
        // Woken early by a NOTIFY, or by a freed slot while claims may find more.
        sleepMs = Math.max(0, this.pollAt - Date.now());
        backoff = 100;
      } catch (err) {
        // The database is away (restart, network): keep what is running, retry with backoff.
        this.opts.log.warn({ err: (err as Error).message, retry_ms: backoff }, 'worker cannot reach the database');
        this.claimable = true;
        failed = true;
        sleepMs = backoff;
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      if (!failed && this.claimable && this.executing + this.ready.size < this.opts.concurrency) continue;
      await this.alarm.sleep(sleepMs);
    }
  }

  /** Tasks leased to this worker: they start as slots free up, accounts taking turns. */
  adopt(claimed: ClaimedTask[]): void {
    for (const c of claimed) this.ready.push(c.task.account_id, c);
    this.startReady();
  }

  /** Runs a start's entry step before the start commits, when it can (StepRunner.planInline). */
  planInline(claimed: ClaimedTask): ReturnType<StepRunner['planInline']> {
    return this.runner.planInline(claimed);
  }

  /** Tells the process of an execution that a step run here finished. */
  finishedHere(execution: ExecutionRow): void {
    this.runner.finishedHere(execution);
  }

  /** How many tasks handed over now would not wait long for a slot. */
  get room(): number {
    return this.running ? Math.max(0, 2 * this.opts.concurrency - this.executing - this.ready.size) : 0;
  }

  private heldTaskIds(): string[] {
    return [...this.inflight.keys(), ...[...this.ready].map((c) => c.task.id)];
  }

  private startReady(): void {
    while (this.running && this.executing < this.opts.concurrency && this.ready.size > 0)
      this.launch(this.ready.shift()!);
  }

  private launch(claimed: ClaimedTask): void {
    const { task } = claimed;
    const abort = new AbortController();
    let slot = true;
    this.executing++;
    const freeSlot = () => {
      if (!slot) return;
      slot = false;
      this.executing--;
      this.startReady();
    };
    const done = this.runner
      .run(claimed, abort.signal, () => this.running, freeSlot)
      .then(async (next) => {
        if (next.length === 0) return;
        if (this.running) for (const n of next) this.ready.push(n.task.account_id, n);
        else
          await releaseLeases(
            this.db,
            this.id,
            next.map((n) => n.task.id),
          ).catch(() => undefined);
      })
      .catch(async (err) => {
        if (err instanceof LeaseLostError) {
          this.opts.log.info({ task: task.id }, 'step result discarded: the lease was lost');
          return;
        }
        this.opts.log.error(
          { err, task: task.id, execution_id: task.execution_id },
          'step failed to run; it will be retried when its lease expires',
        );
        // The database being away is no fault of the task; anything else counts towards its cap.
        if (isDatabaseUnavailable(err)) return;
        try {
          if ((await this.runner.recordEngineFailure(task)) === 'failed')
            this.opts.log.error(
              { task: task.id, execution_id: task.execution_id },
              'the engine failed on this task too often; its execution failed with internal_error',
            );
        } catch (countErr) {
          this.opts.log.warn({ err: (countErr as Error).message, task: task.id }, 'could not count an engine failure');
        }
      })
      .finally(() => {
        this.inflight.delete(task.id);
        freeSlot();
        this.startReady();
        if (this.claimable) this.alarm.wake();
      });
    this.inflight.set(task.id, { task, abort, done });
  }

  /** Stops claiming; waits up to `graceMs` for running steps, then aborts and releases the rest. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.alarm.wake();
    this.notifier.off(TASKS_CHANNEL, this.onTask);
    this.notifier.off('reconnected', this.onTask);
    this.notifier.off(CANCEL_CHANNEL, this.onCancel);
    this.notifier.off(ABORT_TASKS_CHANNEL, this.onAbortTasks);
    await this.loopDone;
    const all = Promise.all([...this.inflight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const left = [...this.inflight.values()];
    for (const f of left) f.abort.abort(SHUTDOWN);
    const held = [...left.map((f) => f.task.id), ...this.ready.clear().map((c) => c.task.id)];
    if (held.length > 0) await releaseLeases(this.db, this.id, held).catch(() => undefined);
    clearInterval(this.heartbeat);
  }
}
