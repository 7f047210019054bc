/**
 * Claims runnable tasks and runs up to `concurrency` at once. Woken by NOTIFY, with a poll as
 * fallback; renews its leases while steps run; on stop it claims nothing more, lets running steps
 * finish for a grace period, then aborts them and releases their leases for another worker.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from '../log';
import { claimTasks, nextRunAt, releaseLeases, renewLeases, TASKS_CHANNEL } from '../repositories/tasks.repository';
import type { Db } from '../db/knex';
import type { TaskRow } from '../db/tables';
import { CANCEL_CHANNEL } from '../repositories/executions.repository';
import { isDatabaseUnavailable } from '../db/errors';
import { Alarm } from './alarm';
import type { Notifier } from './notifier';
import { LeaseLostError, SHUTDOWN, type StepRunner } from './runner';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 5000;

export function newWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
}

interface InFlight {
  task: TaskRow;
  abort: AbortController;
  done: Promise<void>;
}

export class Worker {
  private readonly inflight = new Map<string, InFlight>();
  private running = false;
  private readonly alarm = new Alarm();
  private loopDone: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly onTask = () => this.alarm.wake();
  private readonly onCancel = (executionId: string) => {
    for (const f of this.inflight.values()) if (f.task.execution_id === executionId) f.abort.abort();
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
    this.heartbeat = setInterval(
      () => {
        renewLeases(this.db, this.id, [...this.inflight.keys()], this.opts.leaseMs).catch((err) =>
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
      const capacity = this.opts.concurrency - this.inflight.size;
      let claimed: TaskRow[] = [];
      let sleepMs = POLL_MS;
      try {
        if (capacity > 0) claimed = await claimTasks(this.db, this.id, capacity, this.opts.leaseMs);
        for (const task of claimed) this.launch(task);
        if (claimed.length === 0 && capacity > 0) {
          // Idle: sleep until the next delayed task is due (a poll at most a second away).
          const next = await nextRunAt(this.db);
          if (next) sleepMs = Math.max(0, Math.min(POLL_MS, next.getTime() - Date.now()));
        }
        backoff = 100;
      } catch (err) {
        // The database is away (restart, network): keep what is running, retry with backoff.
        this.opts.log.warn({ err: (err as Error).message, retry_ms: backoff }, 'worker cannot reach the database');
        sleepMs = backoff;
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      if (claimed.length > 0 && claimed.length === capacity) continue;
      await this.alarm.sleep(sleepMs);
    }
  }

  private launch(task: TaskRow): void {
    const abort = new AbortController();
    const done = this.runner
      .run(task, abort.signal)
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
        this.alarm.wake();
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
    await this.loopDone;
    const all = Promise.all([...this.inflight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    if (this.inflight.size > 0) {
      const left = [...this.inflight.values()];
      for (const f of left) f.abort.abort(SHUTDOWN);
      await releaseLeases(
        this.db,
        this.id,
        left.map((f) => f.task.id),
      ).catch(() => undefined);
    }
    clearInterval(this.heartbeat);
  }
}
