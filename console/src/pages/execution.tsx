/**
 * One execution: its graph with live node states, the step timeline, logs (level filter, follow),
 * input and result, and the actions the caller may take (cancel, approve/reject, answer an input).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Execution, LogEntry, LogLevel, Step } from '@flowrunner/client';
import { GraphView } from '../components/graph';
import { JsonView } from '../components/json-view';
import { collect } from '../collect';
import { ErrorBox } from '../errors';
import { EventFeed, followExecution } from '../live';
import { href } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';
import { StatusBadge } from './executions';
import { WaitPanel } from './wait-panel';

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function ExecutionPage({ session, id }: { session: Session; id: string }) {
  const { client } = session;
  const execution = useLoad(async () => (await client.executions.getExecution({ id })).data, [id]);
  const graph = useLoad(async () => (await client.humanInTheLoop.getExecutionGraph({ id })).data, [id]);
  const steps = useLoad(() => collect(client.executions.listSteps({ id, limit: 100 })), [id]);
  const [live, setLive] = useState(false);

  // Live: every event reads the execution, its graph and its steps again (batched).
  const reloads = useRef<() => void>(() => undefined);
  reloads.current = () => {
    execution.reload();
    graph.reload();
    steps.reload();
  };
  const feed = useMemo(() => new EventFeed(), [id]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    setLive(true);
    const stop = followExecution(client, id, (event) => {
      feed.emit(event);
      if (event.type === 'log') return;
      timer ??= setTimeout(() => {
        timer = null;
        reloads.current();
      }, 150);
      if (event.type === 'execution_completed' || event.type === 'execution_failed') setLive(false);
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [client, id, feed]);

  if (execution.error) {
    return (
      <>
        <h1>Execution</h1>
        <ErrorBox error={execution.error} />
      </>
    );
  }
  const e = execution.data;
  if (!e) return <p class="muted">Loading…</p>;
  return (
    <>
      <h1>
        Execution <span class="mono">{e.id}</span>
      </h1>
      <div class="card">
        <p class="row">
          <span>
            Status: <StatusBadge status={e.status} />
          </span>
          <span aria-live="polite" class="muted">
            {live && !FINISHED.has(e.status) ? 'Following live' : ''}
          </span>
        </p>
        <p>
          Flow <FlowName session={session} id={e.flow_id} /> version {e.flow_version} · created{' '}
          {new Date(e.created_at).toLocaleString()}
          {e.duration !== null && ` · ${e.duration} ms`}
        </p>
        {e.error && (
          <div class="error" role="alert">
            {e.error}
          </div>
        )}
        <Actions session={session} execution={e} onDone={() => reloads.current()} />
      </div>
      {e.status === 'waiting' && e.waiting_for && (
        <WaitPanel session={session} execution={e} onDone={() => reloads.current()} />
      )}
      <section class="card" aria-labelledby="graph-heading">
        <h2 id="graph-heading">Graph</h2>
        <ErrorBox error={graph.error} />
        {graph.data && <GraphView graph={graph.data} errors={nodeErrors(steps.data ?? [])} />}
      </section>
      <section class="card" aria-labelledby="steps-heading">
        <h2 id="steps-heading">Steps</h2>
        <ErrorBox error={steps.error} />
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Status</th>
                <th scope="col">Attempt</th>
                <th scope="col" class="hide-narrow">
                  Started
                </th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {(steps.data ?? []).map((s) => (
                <tr key={s.id}>
                  <td>
                    <code>{s.node_id}</code> <span class="muted">{s.node_type}</span>
                    {s.error && <div class="error">{s.error}</div>}
                  </td>
                  <td>
                    <StatusBadge status={s.status} />
                  </td>
                  <td>{s.attempt}</td>
                  <td class="hide-narrow">{s.started_at ? new Date(s.started_at).toLocaleTimeString() : '—'}</td>
                  <td>
                    {s.started_at && s.completed_at
                      ? `${Date.parse(s.completed_at) - Date.parse(s.started_at)} ms`
                      : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <Logs session={session} id={id} feed={feed} />
      <section class="card grid2" aria-label="Input and result">
        <JsonView value={e.input} label="Input" open />
        <JsonView value={e.result} label="Result" open={e.status === 'completed'} />
      </section>
    </>
  );
}

/** Each node's last error, from its steps (in order, so a later attempt's error wins). */
function nodeErrors(steps: Step[]): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const s of steps) if (s.error) errors[s.node_id] = s.error;
  return errors;
}

/** The flow's name, linked; its id when the caller may not read the flow (a shared execution). */
function FlowName({ session, id }: { session: Session; id: string }) {
  const flow = useLoad(async () => (await session.client.flows.getFlow({ id })).data, [id]);
  return <a href={href('flows', id)}>{flow.data?.name ?? id}</a>;
}

function Actions({ session, execution, onDone }: { session: Session; execution: Execution; onDone: () => void }) {
  const [error, setError] = useState<unknown>(null);
  if (FINISHED.has(execution.status)) return null;
  const cancel = async () => {
    setError(null);
    try {
      await session.client.executions.cancelExecution({ id: execution.id });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div>
      <button type="button" class="danger" onClick={() => void cancel()}>
        Cancel execution
      </button>
      <ErrorBox error={error} />
    </div>
  );
}

function Logs({ session, id, feed }: { session: Session; id: string; feed: EventFeed }) {
  const [level, setLevel] = useState<LogLevel | ''>('');
  const [follow, setFollow] = useState(true);
  const [logs, setLogs] = useState<LogEntry[]>([]);
  const [error, setError] = useState<unknown>(null);
  const box = useRef<HTMLDivElement>(null);
  // Live lines are taken from the feed from the start, so none is lost while the earlier ones load;
  // a line seen both ways is kept once (by seq), and the list stays in seq order.
  useEffect(() => {
    setLogs([]);
    setError(null);
    let current = true;
    const bySeq = new Map<number, LogEntry>();
    const add = (entries: LogEntry[]) => {
      if (!current) return;
      entries.forEach((l, i) => bySeq.set(l.seq ?? -1 - i, l));
      setLogs([...bySeq.entries()].sort(([a], [b]) => a - b).map(([, l]) => l));
    };
    const unsubscribe = follow
      ? feed.subscribe((event) => {
          if (event.type === 'log' && (!level || event.level === level)) add([event]);
        })
      : () => undefined;
    collect(session.client.executions.listLogs({ id, limit: 100, ...(level ? { level } : {}) }), 5000).then(
      add,
      (err: unknown) => current && setError(err),
    );
    return () => {
      current = false;
      unsubscribe();
    };
  }, [session, id, level, follow, feed]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [logs, follow]);
  return (
    <section class="card" aria-labelledby="logs-heading">
      <h2 id="logs-heading">Logs</h2>
      <div class="row">
        <div>
          <label for="logs-level">Level</label>
          <select id="logs-level" value={level} onChange={(e) => setLevel(e.currentTarget.value as LogLevel | '')}>
            <option value="">All</option>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l} only
              </option>
            ))}
          </select>
        </div>
        <label style="font-weight: normal">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow
        </label>
      </div>
      <ErrorBox error={error} />
      <div class="logs mono" ref={box} role="log" aria-label="Execution logs" tabIndex={0}>
        {logs.length === 0 && <div class="log-debug">No logs.</div>}
        {logs.map((l, i) => (
          <div key={l.seq ?? i} class={`log-${l.level}`}>
            {new Date(l.timestamp).toLocaleTimeString()} {l.level.toUpperCase()} {l.node_id ? `[${l.node_id}] ` : ''}
            {l.message}
          </div>
        ))}
      </div>
    </section>
  );
}
