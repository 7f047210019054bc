/**
 * What happens at a schedule's due times, inside the transaction that holds the schedule's row
 * lock (the firing loop's claim, or a resume or backfill): each time gets its ledger row, the
 * overlap and catch-up policies decide whether it starts an execution, and the start commits
 * with the ledger row, through the API's own start path (`ExecutionsService.start`). A process
 * that dies before the commit leaves the schedule as it was, due, for any process to fire.
 */
import type { Tx } from '../db/knex';
import {
  FINAL_STATUSES,
  type ExecutionRow,
  type ScheduleFireRow,
  type ScheduleRow,
  type SkipReason,
} from '../db/tables';
import { inTransaction } from '../db/transaction';
import { ExpressionError, ExpressionLimitError, resolveTemplates } from '../engine/expressions';
import { cancelExecution } from '../engine/lifecycle';
import { AppError } from '../errors';
import { findExecution, lockExecution } from '../repositories/executions.repository';
import {
  findBufferedFire,
  findFire,
  insertFire,
  updateFire,
  type NewFire,
} from '../repositories/schedule-fires.repository';
import { advanceSchedule, setLastExecution } from '../repositories/schedules.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import { fireTimeOf, nextSlot } from './schedule-times';

/** Due times recorded per claim: a schedule far behind catches up over several ticks, not in one transaction. */
export const MAX_TIMES_PER_CLAIM = 1000;
/** The most missed times one catch-up starts, whatever the window: never a storm. */
export const MAX_CATCHUP = 10;
/** Where a schedule that will never fire again waits. */
const NEVER = new Date('9999-12-31T00:00:00Z');

export type FireOutcome = Pick<ScheduleFireRow, 'status' | 'reason'>;

/** A schedule fires as its account, which owns its flow, with a runner's rights in its organization. */
function actorOf(s: ScheduleRow): Actor {
  return {
    accountId: s.account_id,
    role: 'user',
    via: 'trigger',
    memberships: new Map([[s.organization_id, 'runner']]),
  };
}

export class ScheduleFiring {
  constructor(private readonly executions: ExecutionsService) {}

  /**
   * Records every due time of a claimed schedule up to `now`, fires those the policies let
   * through, and moves the schedule on to its next time. Returns what became of each time.
   */
  async fireDue(tx: Tx, schedule: ScheduleRow, now: Date): Promise<FireOutcome[]> {
    let s = schedule;
    const times: Date[] = [];
    let next: Date | null = s.next_slot_at;
    while (next && fireTimeOf(s, next) <= now && times.length < MAX_TIMES_PER_CLAIM) {
      times.push(next);
      next = nextSlot(s, next);
    }
    const caughtUp = !next || fireTimeOf(s, next) > now;
    const windowStart = now.getTime() - s.catchup_window_seconds * 1000;
    const eligible = times.filter(
      (t, i) => (caughtUp && i === times.length - 1) || (s.catchup_window_seconds > 0 && t.getTime() >= windowStart),
    );
    const firing = new Set(eligible.slice(-MAX_CATCHUP).map((t) => t.getTime()));
    const outcomes: FireOutcome[] = [];
    for (const t of times) {
      let row: ScheduleFireRow;
      if (s.paused_at)
        row = await this.record(tx, { schedule_id: s.id, scheduled_at: t, status: 'skipped', reason: 'paused' });
      else if (!firing.has(t.getTime()))
        row = await this.record(tx, {
          schedule_id: s.id,
          scheduled_at: t,
          status: 'skipped',
          reason: 'outside_catchup_window',
        });
      else ({ row, schedule: s } = await this.fireTime(tx, s, t, now, false));
      outcomes.push({ status: row.status, reason: row.reason });
    }
    const slot = next ?? NEVER;
    await advanceSchedule(tx, s.id, { next_slot_at: slot, next_fire_at: next ? fireTimeOf(s, slot) : NEVER });
    return outcomes;
  }

  /**
   * One due time under the overlap policy: started, skipped, or buffered. A time already in the
   * ledger is left as it is. The caller holds the schedule's lock.
   */
  async fireTime(
    tx: Tx,
    s: ScheduleRow,
    at: Date,
    now: Date,
    backfill: boolean,
  ): Promise<{ row: ScheduleFireRow; schedule: ScheduleRow }> {
    const existing = await findFire(tx, s.id, at);
    if (existing) return { row: existing, schedule: s };
    const base = { schedule_id: s.id, scheduled_at: at };
    const previous = await this.unfinishedPrevious(tx, s);
    if (previous) {
      if (s.overlap_policy === 'skip')
        return { row: await this.record(tx, { ...base, status: 'skipped', reason: 'overlap' }), schedule: s };
      if (s.overlap_policy === 'buffer_one') {
        const full = await findBufferedFire(tx, s.id);
        const row = await this.record(
          tx,
          full ? { ...base, status: 'skipped', reason: 'overlap' } : { ...base, status: 'buffered' },
        );
        return { row, schedule: s };
      }
      if (s.overlap_policy === 'cancel_previous')
        await cancelExecution(
          tx,
          previous,
          `Cancelled by schedule ${s.id}: its next run is due (overlap policy cancel_previous)`,
          null,
        );
    }
    const started = await this.start(tx, s, at, now, backfill);
    if ('error' in started)
      return {
        row: await this.record(tx, { ...base, status: 'skipped', reason: 'start_failed', error: started.error }),
        schedule: s,
      };
    const row = await this.record(tx, {
      ...base,
      status: backfill ? 'backfilled' : 'fired',
      execution_id: started.execution.id,
    });
    return { row, schedule: { ...s, last_execution_id: started.execution.id } };
  }

  /** Fires the buffered time of a schedule whose previous execution has finished. */
  async releaseBuffer(tx: Tx, s: ScheduleRow, now: Date): Promise<FireOutcome | undefined> {
    const buffered = await findBufferedFire(tx, s.id);
    if (!buffered) return undefined;
    const started = await this.start(tx, s, buffered.scheduled_at, now, false);
    const row =
      'error' in started
        ? await updateFire(tx, buffered.id, { status: 'skipped', reason: 'start_failed', error: started.error })
        : await updateFire(tx, buffered.id, { status: 'fired', execution_id: started.execution.id });
    return { status: row.status, reason: row.reason };
  }

  /** The schedule's previous execution while it goes on (locked only when it is to be cancelled). */
  private async unfinishedPrevious(tx: Tx, s: ScheduleRow): Promise<ExecutionRow | undefined> {
    if (!s.last_execution_id || s.overlap_policy === 'allow') return undefined;
    const ex =
      s.overlap_policy === 'cancel_previous'
        ? await lockExecution(tx, s.last_execution_id)
        : await findExecution(tx, s.last_execution_id);
    return ex && !FINAL_STATUSES.includes(ex.status) ? ex : undefined;
  }

  /** Writes a time's row; a time already in the ledger (a backfill got there first) keeps its own. */
  private async record(tx: Tx, fire: NewFire & { reason?: SkipReason | null }): Promise<ScheduleFireRow> {
    return (await insertFire(tx, fire)) ?? (await findFire(tx, fire.schedule_id, fire.scheduled_at))!;
  }

  /**
   * Starts the execution of one due time in a savepoint: a start the flow refuses (the flow is
   * gone, the input does not match its schema, a template fails) is the time's recorded error,
   * and the rest of the transaction goes on.
   */
  private async start(
    tx: Tx,
    s: ScheduleRow,
    at: Date,
    now: Date,
    backfill: boolean,
  ): Promise<{ execution: ExecutionRow } | { error: string }> {
    const trigger = {
      type: 'schedule' as const,
      id: s.id,
      scheduled_at: at.toISOString(),
      ...(backfill ? { backfill } : {}),
    };
    try {
      const input = (await resolveTemplates(s.input, {
        trigger: { ...trigger, schedule_id: s.id, fired_at: now.toISOString(), backfill },
      })) as Record<string, unknown>;
      const { execution } = await inTransaction(tx, (sp) =>
        this.executions.start(
          actorOf(s),
          { flowId: s.flow_id, flowVersion: s.flow_version ?? undefined, input, trigger },
          sp,
        ),
      );
      await setLastExecution(tx, s.id, execution.id);
      return { execution };
    } catch (err) {
      if (err instanceof AppError || err instanceof ExpressionError || err instanceof ExpressionLimitError)
        return { error: err.message };
      throw err;
    }
  }
}
