import type { Handlers } from '../http/operations';
import { toSchedule, toScheduleFire } from '../presenters/schedules.presenter';
import type { Services } from '../services';
import type { ScheduleView } from '../services/schedules.service';
import { message } from './replies';

const present = (v: ScheduleView) => toSchedule(v.schedule, v.nextFireTimes, v.lastFires);

export function scheduleHandlers(s: Services): Handlers {
  return {
    createSchedule: async ({ actor, body }) => ({ status: 201, body: present(await s.schedules.create(actor, body)) }),
    listSchedules: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { views, total } = await s.schedules.list(actor, {
        flowId: query.flow_id,
        organization: query.organization,
        limit,
        offset,
      });
      return { status: 200, body: { schedules: views.map(present), total, limit, offset } };
    },
    getSchedule: async ({ actor, params }) => ({ status: 200, body: present(await s.schedules.get(actor, params.id)) }),
    updateSchedule: async ({ actor, params, body }) => ({
      status: 200,
      body: present(await s.schedules.update(actor, params.id, body)),
    }),
    deleteSchedule: async ({ actor, params }) => {
      await s.schedules.delete(actor, params.id);
      return message('Schedule deleted successfully');
    },
    pauseSchedule: async ({ actor, params, body }) => ({
      status: 200,
      body: present(await s.schedules.pause(actor, params.id, body?.note)),
    }),
    resumeSchedule: async ({ actor, params }) => ({
      status: 200,
      body: present(await s.schedules.resume(actor, params.id)),
    }),
    listScheduleFires: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.schedules.fires(actor, params.id, limit, offset);
      return { status: 200, body: { fires: rows.map(toScheduleFire), total, limit, offset } };
    },
    backfillSchedule: async ({ actor, params, body }) => {
      const fires = await s.schedules.backfill(actor, params.id, new Date(body.from), new Date(body.to));
      return { status: 200, body: { fires: fires.map(toScheduleFire) } };
    },
  };
}
