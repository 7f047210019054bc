/** A flow's versions, and a line diff between two of them. */
import { useState } from 'preact/hooks';
import { ErrorBox } from '../errors';
import type { Session } from '../session';
import { useLoad } from '../use-load';

type Line = { kind: ' ' | '+' | '-'; text: string };

/** A line diff by longest common subsequence (definitions are at most 256 KiB). */
export function diffLines(a: string[], b: string[]): Line[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: Line[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ kind: ' ', text: a[i++] });
      j++;
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) out.push({ kind: '+', text: b[j++] });
    else out.push({ kind: '-', text: a[i++] });
  }
  return out;
}

export function VersionDiff({ session, flowId }: { session: Session; flowId: string }) {
  const { data: versions, error } = useLoad(
    async () => (await session.client.flows.listFlowVersions({ id: flowId, limit: 100 })).data.versions,
    [flowId],
  );
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const diff = useLoad(async () => {
    if (from === null || to === null) return null;
    const get = async (version: number) =>
      (await session.client.flows.getFlowVersion({ id: flowId, version })).data.definition ?? '';
    const [a, b] = await Promise.all([get(from), get(to)]);
    return diffLines(a.split('\n'), b.split('\n'));
  }, [from, to]);
  if (error) return <ErrorBox error={error} />;
  if (!versions || versions.length < 2) return null;
  const picker = (id: string, label: string, value: number | null, set: (v: number) => void) => (
    <div>
      <label for={id}>{label}</label>
      <select id={id} value={value ?? ''} onChange={(e) => set(Number(e.currentTarget.value))}>
        <option value="">—</option>
        {versions.map((v) => (
          <option key={v.number} value={v.number}>
            #{v.number} ({v.version}, {new Date(v.created_at).toLocaleString()})
          </option>
        ))}
      </select>
    </div>
  );
  return (
    <section class="card" aria-labelledby="versions-heading">
      <h2 id="versions-heading">Versions</h2>
      <div class="row">
        {picker('diff-from', 'Compare version', from, setFrom)}
        {picker('diff-to', 'with version', to, setTo)}
      </div>
      <ErrorBox error={diff.error} />
      {diff.data && (
        <pre aria-label="Differences" style="margin-top: 0.5rem">
          {diff.data.map((l, i) => (
            <div
              key={i}
              style={l.kind === '+' ? 'background:#eaf6ee' : l.kind === '-' ? 'background:#fdecea' : undefined}
            >
              {l.kind} {l.text}
            </div>
          ))}
        </pre>
      )}
    </section>
  );
}
