/** A flow's triggers: schedules (create, pause, resume, delete) and webhook triggers (create, delete). */
import { useState } from 'preact/hooks';
import type { Webhook, WebhookCreateRespondEnum, WebhookVerificationSchemeEnum } from '@flowrunner/client';
import { ErrorBox } from '../errors';
import { baseUrl, type Session } from '../session';
import { useLoad } from '../use-load';

/** The JSON object a textarea holds; a readable error when it is not one. */
function objectOf(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`Input is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('Input must be a JSON object');
  return value as Record<string, unknown>;
}

const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function NewSchedule({ session, flowId, onCreated }: { session: Session; flowId: string; onCreated: () => void }) {
  const [kind, setKind] = useState<'cron' | 'interval'>('cron');
  const [cron, setCron] = useState('');
  const [seconds, setSeconds] = useState('3600');
  const [timezone, setTimezone] = useState(browserZone);
  const [input, setInput] = useState('{}');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await session.schedules.createSchedule({
        scheduleCreate: {
          flow_id: flowId,
          input: objectOf(input),
          timezone,
          ...(kind === 'cron' ? { cron } : { interval_seconds: Number(seconds) }),
        },
      });
      setCron('');
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void create(e)} aria-labelledby="new-schedule-heading">
      <h3 id="new-schedule-heading">New schedule</h3>
      <div class="row">
        <div>
          <label for="schedule-kind">Repeat</label>
          <select
            id="schedule-kind"
            value={kind}
            onChange={(e) => setKind(e.currentTarget.value as 'cron' | 'interval')}
          >
            <option value="cron">on a cron expression</option>
            <option value="interval">every N seconds</option>
          </select>
        </div>
        {kind === 'cron' ? (
          <div>
            <label for="schedule-cron">Cron expression</label>
            <input
              id="schedule-cron"
              class="mono"
              required
              placeholder="0 3 * * *"
              value={cron}
              onInput={(e) => setCron(e.currentTarget.value)}
            />
          </div>
        ) : (
          <div>
            <label for="schedule-interval">Interval (seconds)</label>
            <input
              id="schedule-interval"
              type="number"
              min={1}
              required
              value={seconds}
              onInput={(e) => setSeconds(e.currentTarget.value)}
            />
          </div>
        )}
        <div>
          <label for="schedule-zone">Time zone</label>
          <input id="schedule-zone" required value={timezone} onInput={(e) => setTimezone(e.currentTarget.value)} />
        </div>
      </div>
      <label for="schedule-input">Input (JSON)</label>
      <textarea
        id="schedule-input"
        class="mono"
        rows={3}
        value={input}
        onInput={(e) => setInput(e.currentTarget.value)}
      />
      <p>
        <button type="submit" disabled={busy}>
          Create schedule
        </button>
      </p>
      <ErrorBox error={error} />
    </form>
  );
}

function NewWebhook({ session, flowId, onCreated }: { session: Session; flowId: string; onCreated: () => void }) {
  const [respond, setRespond] = useState<WebhookCreateRespondEnum>('immediately');
  const [scheme, setScheme] = useState<WebhookVerificationSchemeEnum>('github');
  const [created, setCreated] = useState<Webhook | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const { data } = await session.webhooks.createWebhook({
        id: flowId,
        webhookCreate: { respond, verification: { scheme } },
      });
      setCreated(data);
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void create(e)} aria-labelledby="new-webhook-heading">
      <h3 id="new-webhook-heading">New webhook trigger</h3>
      <div class="row">
        <div>
          <label for="webhook-respond">Answer</label>
          <select
            id="webhook-respond"
            value={respond}
            onChange={(e) => setRespond(e.currentTarget.value as WebhookCreateRespondEnum)}
          >
            <option value="immediately">at once (202 with the execution id)</option>
            <option value="on_completion">on completion (the result)</option>
          </select>
        </div>
        <div>
          <label for="webhook-verification">Signature check</label>
          <select
            id="webhook-verification"
            value={scheme}
            onChange={(e) => setScheme(e.currentTarget.value as WebhookVerificationSchemeEnum)}
          >
            <option value="github">GitHub</option>
            <option value="stripe">Stripe</option>
            <option value="none">none</option>
          </select>
        </div>
      </div>
      <p>
        <button type="submit" disabled={busy}>
          Create webhook trigger
        </button>
      </p>
      {created && (
        <div class="notice" role="status">
          Shown once, copy them now. URL:{' '}
          <code class="new-webhook-url" style="word-break: break-all">
            {created.url ? `${baseUrl()}${created.url}` : '—'}
          </code>
          {created.secret && (
            <>
              {' '}
              Secret:{' '}
              <code class="new-webhook-secret" style="word-break: break-all">
                {created.secret}
              </code>
            </>
          )}
        </div>
      )}
      <ErrorBox error={error} />
    </form>
  );
}

export function Triggers({ session, flowId }: { session: Session; flowId: string }) {
  const schedules = useLoad(
    async () => (await session.schedules.listSchedules({ flowId, limit: 100 })).data.schedules,
    [flowId],
  );
  const webhooks = useLoad(async () => (await session.webhooks.listWebhooks({ id: flowId })).data.webhooks, [flowId]);
  const [error, setError] = useState<unknown>(null);
  const act = async (call: () => Promise<unknown>, reload: () => void) => {
    setError(null);
    try {
      await call();
      reload();
    } catch (err) {
      setError(err);
    }
  };
  const toggle = (id: string, paused: boolean) =>
    act(
      () => (paused ? session.schedules.resumeSchedule({ id }) : session.schedules.pauseSchedule({ id })),
      schedules.reload,
    );
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
              {(schedules.data ?? []).map((s) => {
                const when = `${s.cron ?? `every ${s.interval_seconds} s`} (${s.timezone})`;
                return (
                  <tr key={s.id} data-schedule={s.id}>
                    <td class="mono">{when}</td>
                    <td>{s.next_fire_times[0] ? new Date(s.next_fire_times[0]).toLocaleString() : '—'}</td>
                    <td>{s.paused ? 'paused' : 'active'}</td>
                    <td class="row">
                      <button type="button" class="secondary" onClick={() => void toggle(s.id, s.paused)}>
                        {s.paused ? 'Resume' : 'Pause'}
                      </button>
                      <button
                        type="button"
                        class="danger"
                        aria-label={`Delete schedule ${when}`}
                        onClick={() => void act(() => session.schedules.deleteSchedule({ id: s.id }), schedules.reload)}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <NewSchedule session={session} flowId={flowId} onCreated={schedules.reload} />
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
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(webhooks.data ?? []).map((w) => (
                <tr key={w.id} data-webhook={w.id}>
                  <td class="mono">{w.id}</td>
                  <td>{w.enabled ? 'yes' : 'no'}</td>
                  <td>{w.respond === 'immediately' ? 'at once' : 'on completion'}</td>
                  <td>{w.last_delivery_at ? new Date(w.last_delivery_at).toLocaleString() : 'never'}</td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Delete webhook trigger ${w.id}`}
                      onClick={() =>
                        void act(() => session.webhooks.deleteWebhook({ id: flowId, webhookId: w.id }), webhooks.reload)
                      }
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <NewWebhook session={session} flowId={flowId} onCreated={webhooks.reload} />
    </section>
  );
}
