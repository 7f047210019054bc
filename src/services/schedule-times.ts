/**
 * A schedule's due times, pure: the cron expression (read by `croner` in the schedule's IANA time
 * zone) or the interval, and the deterministic jitter. Croner's DST rules are the ones we promise:
 * a fixed time that does not exist that day (spring forward) fires once at the first valid time
 * after the gap; a fixed time that happens twice (fall back) fires once, at the first. A cron with
 * a wildcard, step, range or list in its time fields keeps running in real time through the change.
 */
import crypto from 'node:crypto';
import { Cron } from 'croner';
import { ValidationError } from '../errors';

export interface ScheduleClockFields {
  id: string;
  cron: string | null;
  interval_seconds: number | null;
  starts_at: Date | null;
  timezone: string;
  jitter_seconds: number;
  created_at: Date;
}

const NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

function invalid(field: string, reason: string): ValidationError {
  return new ValidationError(`Invalid ${field}: ${reason}`, { field, reason });
}

/** Throws a 422 naming the field unless `timezone` is an IANA zone this runtime knows. */
export function checkTimezone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw invalid('timezone', `"${timezone}" is not an IANA time zone (for example Europe/Berlin or UTC)`);
  }
}

function cronOf(expression: string, timezone: string): Cron {
  return new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
}

/** Throws a 422 naming the field unless `expression` is a 5- or 6-field cron or a known @name. */
export function checkCron(expression: string, timezone: string): void {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) {
    if (!NICKNAMES.includes(trimmed.toLowerCase()))
      throw invalid('cron', `unknown name ${trimmed}; use one of ${NICKNAMES.join(', ')}`);
  } else if (![5, 6].includes(trimmed.split(/\s+/).length)) {
    throw invalid('cron', 'a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first)');
  }
  try {
    if (!cronOf(trimmed, timezone).nextRun(new Date(0))) throw new Error('it never fires');
  } catch (err) {
    throw invalid('cron', (err as Error).message);
  }
}

/** Checks the clock of a schedule as a whole: exactly one of cron and interval, in a real zone. */
export function checkClock(s: Pick<ScheduleClockFields, 'cron' | 'interval_seconds' | 'timezone'>): void {
  if ((s.cron === null) === (s.interval_seconds === null))
    throw invalid('cron', 'give either cron or interval_seconds, not both and not neither');
  checkTimezone(s.timezone);
  if (s.cron !== null) checkCron(s.cron, s.timezone);
}

/** The first due time strictly after `after`, or null when there is none. */
export function nextSlot(s: ScheduleClockFields, after: Date): Date | null {
  if (s.cron !== null) return cronOf(s.cron.trim(), s.timezone).nextRun(after);
  const step = s.interval_seconds! * 1000;
  const anchor = (s.starts_at ?? s.created_at).getTime();
  const t = after.getTime();
  if (t < anchor) return new Date(anchor);
  return new Date(anchor + (Math.floor((t - anchor) / step) + 1) * step);
}

/** The delay of one due time: derived from the schedule and the time, so the preview is exact. */
export function jitterMs(s: Pick<ScheduleClockFields, 'id' | 'jitter_seconds'>, slot: Date): number {
  if (s.jitter_seconds <= 0) return 0;
  const digest = crypto.createHash('sha256').update(`${s.id}|${slot.toISOString()}`).digest();
  return digest.readUInt32BE(0) % (s.jitter_seconds * 1000 + 1);
}

export function fireTimeOf(s: Pick<ScheduleClockFields, 'id' | 'jitter_seconds'>, slot: Date): Date {
  return new Date(slot.getTime() + jitterMs(s, slot));
}

/** The next `count` fire times after `now` (jitter included), from the schedule's next due time on. */
export function nextFireTimes(s: ScheduleClockFields, from: Date, now: Date, count: number): Date[] {
  const out: Date[] = [];
  let slot: Date | null = from;
  while (slot && out.length < count) {
    const fire = fireTimeOf(s, slot);
    if (fire > now) out.push(fire);
    slot = nextSlot(s, slot);
  }
  return out;
}
