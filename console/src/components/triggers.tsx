/** A flow's triggers: its schedules (pause, resume) and webhook triggers. */
import { useState } from 'preact/hooks';
import { ErrorBox } from '../errors';
import type { Session } from '../session';
import { useLoad } from '../use-load';

export function Triggers({ session, flowId }: { session: Session; flowId: string }) {
  const schedules = useLoad(
    async () => (await session.schedules.listSchedules({ flowId, limit: 100 })).data.schedules,
    [flowId],
  );
  const webhooks = useLoad(async () => (await session.webhooks.listWebhooks({ id: flowId })).data.webhooks, [flowId]);
  const [error, setError] = useState<unknown>(null);
  const toggle = async (id: string, paused: boolean) => {
    setError(null);
    try {
      if (paused) await session.schedules.resumeSchedule({ id });
      else await session.schedules.pauseSchedule({ id });
      schedules.reload();
    } catch (err) {
      setError(err);
    }
  };
  if (!schedules.data?.length && !webhooks.data?.length && !schedules.error && !webhooks.error) return null;
  return (
    <section class="card" aria-labelledby="triggers-heading">
      <h2 id="triggers-heading">Triggers</h2>
      <ErrorBox error={error ?? schedules.error ?? webhooks.error} />
      {(schedules.data ?? []).length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>Schedules</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Next</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(schedules.data ?? []).map((s) => (
                <tr key={s.id}>
                  <td class="mono">
                    {s.cron ?? `every ${s.interval_seconds} s`} ({s.timezone})
                  </td>
                  <td>{s.next_fire_times[0] ? new Date(s.next_fire_times[0]).toLocaleString() : '—'}</td>
                  <td>{s.paused ? 'paused' : 'active'}</td>
                  <td>
                    <button type="button" class="secondary" onClick={() => void toggle(s.id, s.paused)}>
                      {s.paused ? 'Resume' : 'Pause'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(webhooks.data ?? []).length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>Webhook triggers</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Enabled</th>
                <th scope="col">Answers</th>
                <th scope="col">Last call</th>
              </tr>
            </thead>
            <tbody>
              {(webhooks.data ?? []).map((w) => (
                <tr key={w.id}>
                  <td class="mono">{w.id}</td>
                  <td>{w.enabled ? 'yes' : 'no'}</td>
                  <td>{w.respond === 'immediately' ? 'at once' : 'on completion'}</td>
                  <td>{w.last_delivery_at ? new Date(w.last_delivery_at).toLocaleString() : 'never'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
