/** Schedules and their ledger as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { ScheduleFireRow, ScheduleRow } from '../db/tables';
import { iso, isoOrNull } from './dates';

type Schemas = components['schemas'];

export function toScheduleFire(r: ScheduleFireRow): Schemas['ScheduleFire'] {
  return {
    scheduled_at: iso(r.scheduled_at),
    status: r.status,
    reason: r.reason,
    error: r.error,
    execution_id: r.execution_id,
    recorded_at: iso(r.recorded_at),
  };
}

export function toSchedule(r: ScheduleRow, nextFireTimes: Date[], lastFires: ScheduleFireRow[]): Schemas['Schedule'] {
  return {
    id: r.id,
    organization_id: r.organization_id,
    flow_id: r.flow_id,
    flow_version: r.flow_version,
    input: r.input,
    cron: r.cron,
    interval_seconds: r.interval_seconds,
    starts_at: isoOrNull(r.starts_at),
    timezone: r.timezone,
    overlap_policy: r.overlap_policy,
    catchup_window_seconds: r.catchup_window_seconds,
    jitter_seconds: r.jitter_seconds,
    paused: r.paused_at !== null,
    pause: r.paused_at ? { by: r.paused_by ?? '', at: iso(r.paused_at), note: r.pause_note } : null,
    next_fire_times: nextFireTimes.map(iso),
    last_fires: lastFires.map(toScheduleFire),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}
