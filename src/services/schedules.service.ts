/**
 * Schedules: create, read, change, pause and resume, backfill. A schedule belongs to the account
 * of its flow; another account's schedule is "not found". The due times themselves are fired by
 * the firing loop (`scheduler.ts`) through `ScheduleFiring`, which resume and backfill use too.
 */
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import type { FlowVersionRow, OverlapPolicy, ScheduleFireRow, ScheduleRow } from '../db/tables';
import { inTransaction } from '../db/transaction';
import { parseProblem } from '../engine/expressions';
import { expressionsIn } from '../engine/templates';
import { ValidationError } from '../errors';
import { findFlowVersion } from '../repositories/flows.repository';
import { countFires, firesBetween, latestFires, listFireRows } from '../repositories/schedule-fires.repository';
import {
  deleteScheduleRow,
  findSchedule,
  insertSchedule,
  listScheduleRows,
  lockSchedule,
  updateScheduleRow,
} from '../repositories/schedules.repository';
import type { Actor } from './actor';
import type { Clock } from './clock';
import type { FlowsService } from './flows.service';
import { ownerFilter, permittedOrForbidden, visibleOrNotFound } from './ownership';
import type { ScheduleFiring } from './schedule-firing';
import { checkClock, fireTimeOf, nextFireTimes, nextSlot } from './schedule-times';

/** The fields a user sets (snake_case, as in the API). */
export interface ScheduleFields {
  flow_id: string;
  flow_version?: number | null;
  input?: Record<string, unknown>;
  cron?: string | null;
  interval_seconds?: number | null;
  starts_at?: string | null;
  timezone?: string;
  overlap_policy?: OverlapPolicy;
  catchup_window_seconds?: number;
  jitter_seconds?: number;
}

export interface ScheduleView {
  schedule: ScheduleRow;
  nextFireTimes: Date[];
  lastFires: ScheduleFireRow[];
}

/** How many due times a schedule shows ahead, and how many of its latest. */
const PREVIEW = 5;
/** The most due times one backfill starts. */
export const MAX_BACKFILL = 100;

const CLOCK_FIELDS = ['cron', 'interval_seconds', 'starts_at', 'timezone', 'jitter_seconds'] as const;

export class SchedulesService {
  constructor(
    private readonly db: Db,
    private readonly flows: FlowsService,
    private readonly firing: ScheduleFiring,
    readonly clock: Clock,
  ) {}

  private async view(rows: ScheduleRow[]): Promise<ScheduleView[]> {
    const now = this.clock.now();
    const fires = await latestFires(
      this.db,
      rows.map((r) => r.id),
      PREVIEW,
    );
    return rows.map((schedule) => ({
      schedule,
      nextFireTimes: nextFireTimes(schedule, schedule.next_slot_at, now, PREVIEW),
      lastFires: fires.filter((f) => f.schedule_id === schedule.id),
    }));
  }

  private async visible(actor: Actor, id: string): Promise<ScheduleRow> {
    return visibleOrNotFound(actor, await findSchedule(this.db, id), 'Schedule');
  }

  /** A schedule the actor may change (its organization's editors and owners; 403 for other members). */
  private async editable(actor: Actor, id: string): Promise<ScheduleRow> {
    return permittedOrForbidden(actor, await findSchedule(this.db, id), 'edit', 'Schedule');
  }

  /**
   * The flow (one the actor may edit: a schedule belongs to its flow's organization), and a check
   * of what the schedule will start: its version and its input's templates.
   */
  private async checkFlow(actor: Actor, f: Pick<ScheduleFields, 'flow_id' | 'flow_version' | 'input'>) {
    const flow = await this.flows.permitted(actor, f.flow_id, 'edit');
    if (f.flow_version !== undefined && f.flow_version !== null) {
      const version: FlowVersionRow | undefined = await findFlowVersion(this.db, flow.id, f.flow_version);
      if (!version)
        throw new ValidationError(`The flow has no version ${f.flow_version}`, {
          field: 'flow_version',
          reason: `the flow's versions are 1 to ${flow.current_version}`,
        });
    }
    for (const expression of expressionsIn(f.input ?? {})) {
      const problem = parseProblem(expression);
      if (problem)
        throw new ValidationError(`A template of the input does not parse: ${problem.message}`, {
          field: 'input',
          reason: problem.message,
        });
    }
    return flow;
  }

  /** The first due time after `now`, or a 422 when the clock never fires. */
  private firstSlot(s: Parameters<typeof nextSlot>[0], now: Date): { next_slot_at: Date; next_fire_at: Date } {
    const slot = nextSlot(s, now);
    if (!slot)
      throw new ValidationError('The schedule never fires', { field: 'cron', reason: 'no future time matches' });
    return { next_slot_at: slot, next_fire_at: fireTimeOf(s, slot) };
  }

  async create(actor: Actor, f: ScheduleFields): Promise<ScheduleView> {
    const flow = await this.checkFlow(actor, f);
    const now = this.clock.now();
    const clock = {
      id: newId('sch'),
      cron: f.cron ?? null,
      interval_seconds: f.interval_seconds ?? null,
      starts_at: f.starts_at ? new Date(f.starts_at) : null,
      timezone: f.timezone ?? 'UTC',
      jitter_seconds: f.jitter_seconds ?? 0,
      created_at: now,
    };
    checkClock(clock);
    const row = await insertSchedule(this.db, {
      ...clock,
      account_id: flow.account_id,
      organization_id: flow.organization_id,
      flow_id: flow.id,
      flow_version: f.flow_version ?? null,
      input: f.input ?? {},
      overlap_policy: f.overlap_policy ?? 'skip',
      catchup_window_seconds: f.catchup_window_seconds ?? 0,
      created_by: actor.accountId,
      ...this.firstSlot(clock, now),
    });
    return (await this.view([row]))[0];
  }

  async get(actor: Actor, id: string): Promise<ScheduleView> {
    return (await this.view([await this.visible(actor, id)]))[0];
  }

  async list(actor: Actor, q: { flowId?: string; organization?: string; limit: number; offset: number }) {
    const { organization, ...rest } = q;
    const { rows, total } = await listScheduleRows(this.db, { ...ownerFilter(actor, organization), ...rest });
    return { views: await this.view(rows), total };
  }

  async update(actor: Actor, id: string, f: Partial<ScheduleFields>): Promise<ScheduleView> {
    await this.editable(actor, id);
    const now = this.clock.now();
    const row = await inTransaction(this.db, async (tx) => {
      const current = (await lockSchedule(tx, id))!;
      // Another flow: a pinned version of the old one means nothing there.
      if (f.flow_id !== undefined && f.flow_id !== current.flow_id && f.flow_version === undefined)
        f = { ...f, flow_version: null };
      const merged = {
        ...current,
        ...f,
        starts_at: f.starts_at === undefined ? current.starts_at : f.starts_at === null ? null : new Date(f.starts_at),
      } as ScheduleRow;
      const flow = await this.checkFlow(actor, {
        flow_id: merged.flow_id,
        flow_version: merged.flow_version,
        input: merged.input,
      });
      checkClock(merged);
      const clockChanged = CLOCK_FIELDS.some((k) => k in f);
      return updateScheduleRow(tx, id, {
        ...f,
        starts_at: merged.starts_at,
        account_id: flow.account_id,
        organization_id: flow.organization_id,
        ...(clockChanged ? this.firstSlot(merged, now) : {}),
      } as Partial<ScheduleRow>);
    });
    return (await this.view([row]))[0];
  }

  async delete(actor: Actor, id: string): Promise<void> {
    await this.editable(actor, id);
    await deleteScheduleRow(this.db, id);
  }

  async pause(actor: Actor, id: string, note: string | undefined): Promise<ScheduleView> {
    await this.editable(actor, id);
    const row = await inTransaction(this.db, async (tx) => {
      const s = (await lockSchedule(tx, id))!;
      if (s.paused_at) return s;
      return updateScheduleRow(tx, id, {
        paused_at: this.clock.now(),
        paused_by: actor.accountId,
        pause_note: note ?? null,
      });
    });
    return (await this.view([row]))[0];
  }

  /** Records the times that came due while paused (skipped, `paused`), then fires again from the next one. */
  async resume(actor: Actor, id: string): Promise<ScheduleView> {
    await this.editable(actor, id);
    const row = await inTransaction(this.db, async (tx) => {
      const s = (await lockSchedule(tx, id))!;
      if (!s.paused_at) return s;
      await this.firing.fireDue(tx, s, this.clock.now());
      return updateScheduleRow(tx, id, { paused_at: null, paused_by: null, pause_note: null });
    });
    return (await this.view([row]))[0];
  }

  async fires(actor: Actor, id: string, limit: number, offset: number) {
    await this.visible(actor, id);
    return listFireRows(this.db, id, limit, offset);
  }

  /** Starts the runs of the due times in [from, to], one after the other under the overlap policy. */
  async backfill(actor: Actor, id: string, from: Date, to: Date): Promise<ScheduleFireRow[]> {
    const schedule = await this.editable(actor, id);
    const now = this.clock.now();
    if (from > to)
      throw new ValidationError('`from` is after `to`', { field: 'from', reason: 'from must not be after to' });
    if (to > now)
      throw new ValidationError('A backfill covers past times only', { field: 'to', reason: 'to is in the future' });
    const times: Date[] = [];
    for (let t = nextSlot(schedule, new Date(from.getTime() - 1)); t && t <= to; t = nextSlot(schedule, t)) {
      times.push(t);
      if (times.length > MAX_BACKFILL)
        throw new ValidationError(`The range holds more than ${MAX_BACKFILL} due times`, {
          field: 'to',
          reason: `backfill at most ${MAX_BACKFILL} times at once`,
        });
    }
    await inTransaction(this.db, async (tx) => {
      let s = (await lockSchedule(tx, id))!;
      for (const t of times) ({ schedule: s } = await this.firing.fireTime(tx, s, t, now, true));
    });
    return firesBetween(this.db, id, from, to);
  }

  /** The ledger's counts by status and reason, over every schedule (for /metrics). */
  ledgerCounts() {
    return countFires(this.db);
  }
}
