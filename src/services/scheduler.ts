/**
 * The firing loop of a worker process. Every tick it claims the schedules whose next time is due
 * (`FOR UPDATE SKIP LOCKED`, one transaction per schedule) and fires them (`ScheduleFiring`):
 * any number of processes may run it, and each due time is fired by exactly one of them, since
 * its ledger row, its execution and the schedule's move to the next time commit together. Then it
 * fires the buffered times whose previous execution has finished. Time comes from the `Clock`, so
 * tests drive ticks over a DST change without waiting.
 */
import type { Db, Tx } from '../db/knex';
import type { ScheduleRow } from '../db/tables';
import { inTransaction } from '../db/transaction';
import type { Logger } from '../log';
import { claimDueSchedule, claimReleasedBuffer } from '../repositories/schedules.repository';
import type { Clock } from './clock';
import type { FireOutcome, ScheduleFiring } from './schedule-firing';

/** Schedules one tick fires at most (the next tick goes on). */
const MAX_CLAIMS_PER_TICK = 200;

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly firing: ScheduleFiring,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly pollMs = 1000,
  ) {}

  /** Fires everything due now; returns what became of each due time. */
  async tick(): Promise<FireOutcome[]> {
    const now = this.clock.now();
    const outcomes: FireOutcome[] = [];
    const failed: string[] = [];
    const claimOne = async (
      claim: (tx: Tx) => Promise<ScheduleRow | undefined>,
      fire: (tx: Tx, s: ScheduleRow) => Promise<FireOutcome[]>,
    ): Promise<boolean> => {
      let claimedId: string | undefined;
      try {
        const done = await inTransaction(this.db, async (tx) => {
          const s = await claim(tx);
          if (!s) return undefined;
          claimedId = s.id;
          return fire(tx, s);
        });
        if (!done) return false;
        outcomes.push(...done);
      } catch (err) {
        if (!claimedId) throw err;
        // One schedule that cannot be fired (the database refused it) does not hold up the others.
        this.log.error({ err, schedule: claimedId }, 'firing a schedule failed; it stays due');
        failed.push(claimedId);
      }
      return true;
    };
    for (let i = 0; i < MAX_CLAIMS_PER_TICK; i++) {
      const more = await claimOne(
        (tx) => claimDueSchedule(tx, now, failed),
        (tx, s) => this.firing.fireDue(tx, s, now),
      );
      if (!more) break;
    }
    for (let i = 0; i < MAX_CLAIMS_PER_TICK; i++) {
      const more = await claimOne(
        (tx) => claimReleasedBuffer(tx, failed),
        async (tx, s) => {
          const outcome = await this.firing.releaseBuffer(tx, s, now);
          return outcome ? [outcome] : [];
        },
      );
      if (!more) break;
    }
    return outcomes;
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'schedule tick failed; will try again'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.pollMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }
}
