/** Flows: search by name, filter by tag, paged. */
import { useState } from 'preact/hooks';
import { ErrorBox } from '../errors';
import { href } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';

const PAGE = 25;

export function FlowsPage({ session }: { session: Session }) {
  const [tag, setTag] = useState('');
  const [search, setSearch] = useState('');
  const [offset, setOffset] = useState(0);
  const { data, error } = useLoad(
    async () => (await session.client.flows.listFlows({ limit: PAGE, offset, ...(tag ? { tag: [tag] } : {}) })).data,
    [tag, offset],
  );
  const flows = (data?.flows ?? []).filter((f) => f.name.toLowerCase().includes(search.toLowerCase()));
  return (
    <>
      <div class="row" style="justify-content: space-between">
        <h1>Flows</h1>
        <a href={href('flows', 'new')}>New flow</a>
      </div>
      <div class="row">
        <div>
          <label for="flows-search">Search by name</label>
          <input id="flows-search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </div>
        <div>
          <label for="flows-tag">Tag</label>
          <input
            id="flows-tag"
            value={tag}
            onChange={(e) => {
              setOffset(0);
              setTag(e.currentTarget.value.trim());
            }}
          />
        </div>
      </div>
      <ErrorBox error={error} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Flows</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Tags</th>
              <th scope="col" class="hide-narrow">
                Version
              </th>
              <th scope="col" class="hide-narrow">
                Updated
              </th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => (
              <tr key={f.id}>
                <td>
                  <a href={href('flows', f.id)}>{f.name}</a>
                  {f.description && <div class="muted">{f.description}</div>}
                </td>
                <td>{f.tags.join(', ')}</td>
                <td class="hide-narrow">
                  {f.version} (#{f.version_number})
                </td>
                <td class="hide-narrow">{new Date(f.updated_at).toLocaleString()}</td>
                <td>
                  <a href={href('flows', f.id, 'run')} aria-label={`Run ${f.name}`}>
                    Run
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data && data.flows.length === 0 && <p class="muted">No flows yet.</p>}
      <Pager offset={offset} total={data?.total ?? 0} page={PAGE} onChange={setOffset} />
    </>
  );
}

export function Pager(props: { offset: number; total: number; page: number; onChange: (offset: number) => void }) {
  const { offset, total, page, onChange } = props;
  if (total <= page) return null;
  return (
    <nav class="row" aria-label="Pages" style="margin-top: 0.5rem">
      <button
        type="button"
        class="secondary"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - page))}
      >
        Previous
      </button>
      <span>
        {offset + 1}–{Math.min(offset + page, total)} of {total}
      </span>
      <button type="button" class="secondary" disabled={offset + page >= total} onClick={() => onChange(offset + page)}>
        Next
      </button>
    </nav>
  );
}
