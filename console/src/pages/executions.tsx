/** Executions: filters (flow, status, time), newest first, paged by cursor, updated live. */
import { useEffect, useState } from 'preact/hooks';
import { ExecutionStatusValues, type ExecutionList, type ExecutionStatus } from '@flowrunner/client';
import { ErrorBox } from '../errors';
import { watchExecutions } from '../live';
import { href } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';

const PAGE = 25;

export function StatusBadge({ status }: { status: string }) {
  return <span class={`status status-${status}`}>{status}</span>;
}

export function ExecutionsPage({ session, flowId: initialFlow }: { session: Session; flowId?: string }) {
  const [flowId, setFlowId] = useState(initialFlow ?? '');
  const [status, setStatus] = useState<ExecutionStatus | ''>('');
  const [since, setSince] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const { data, error, reload } = useLoad<ExecutionList>(
    async () =>
      (
        await session.client.executions.listExecutions({
          limit: PAGE,
          ...(flowId ? { flowId } : {}),
          ...(status ? { status } : {}),
          ...(cursor ? { cursor } : {}),
        })
      ).data,
    [flowId, status, cursor],
  );
  // Any event of an execution we may see: read the page again (at most every 300 ms).
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    return watchExecutions(session.token, () => {
      timer ??= setTimeout(() => {
        timer = null;
        reload();
      }, 300);
    });
  }, [session.token, reload]);
  const flows = useLoad(async () => (await session.client.flows.listFlows({ limit: 100 })).data.flows, []);
  const sinceMs = since ? Date.parse(since) : 0;
  const rows = (data?.executions ?? []).filter((e) => !sinceMs || Date.parse(e.created_at) >= sinceMs);
  const resetPaging = () => setCursors([]);
  // An execution of a flow made since the flows were read: read them again (once per such set).
  const unknownFlows = rows
    .filter((e) => flows.data && !flows.data.some((f) => f.id === e.flow_id))
    .map((e) => e.flow_id)
    .join();
  const reloadFlows = flows.reload;
  useEffect(() => {
    if (unknownFlows) reloadFlows();
  }, [unknownFlows, reloadFlows]);
  return (
    <>
      <h1>Executions</h1>
      <div class="row">
        <div>
          <label for="executions-flow">Flow</label>
          <select
            id="executions-flow"
            value={flowId}
            onChange={(e) => {
              resetPaging();
              setFlowId(e.currentTarget.value);
            }}
          >
            <option value="">All flows</option>
            {(flows.data ?? []).map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
            {flowId && !(flows.data ?? []).some((f) => f.id === flowId) && <option value={flowId}>{flowId}</option>}
          </select>
        </div>
        <div>
          <label for="executions-status">Status</label>
          <select
            id="executions-status"
            value={status}
            onChange={(e) => {
              resetPaging();
              setStatus(e.currentTarget.value as ExecutionStatus | '');
            }}
          >
            <option value="">Any status</option>
            {ExecutionStatusValues.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="executions-since">Created after (this page)</label>
          <input
            id="executions-since"
            type="datetime-local"
            value={since}
            onInput={(e) => setSince(e.currentTarget.value)}
          />
        </div>
      </div>
      <ErrorBox error={error} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Executions</caption>
          <thead>
            <tr>
              <th scope="col">Execution</th>
              <th scope="col">Status</th>
              <th scope="col" class="hide-narrow">
                Flow
              </th>
              <th scope="col" class="hide-narrow">
                Created
              </th>
              <th scope="col" class="hide-narrow">
                Duration
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={e.id} data-execution={e.id}>
                <td>
                  <a href={href('executions', e.id)} class="mono">
                    {e.id}
                  </a>
                </td>
                <td>
                  <StatusBadge status={e.status} />
                </td>
                <td class="hide-narrow">{(flows.data ?? []).find((f) => f.id === e.flow_id)?.name ?? e.flow_id}</td>
                <td class="hide-narrow">{new Date(e.created_at).toLocaleString()}</td>
                <td class="hide-narrow">{e.duration !== null ? `${e.duration} ms` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data && rows.length === 0 && <p class="muted">No executions.</p>}
      <nav class="row" aria-label="Pages" style="margin-top: 0.5rem">
        <button
          type="button"
          class="secondary"
          disabled={cursors.length === 0}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Newer
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!data?.next_cursor}
          onClick={() => data?.next_cursor && setCursors((c) => [...c, data.next_cursor!])}
        >
          Older
        </button>
      </nav>
    </>
  );
}
