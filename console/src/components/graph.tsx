/** The flow's graph, laid out in columns from the entry, each node coloured by its state. */
import type { Graph } from '@flowrunner/client';

const W = 150;
const H = 46;
const GAP_X = 60;
const GAP_Y = 24;

/** Column of each node: its distance from the entry (breadth first; nodes not reached go last). */
function columns(graph: Graph): Map<string, number> {
  const level = new Map<string, number>();
  const entry = graph.entry ?? graph.nodes[0]?.id;
  if (entry) level.set(entry, 0);
  const queue = entry ? [entry] : [];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const e of graph.edges) {
      if (e.from === id && !level.has(e.to)) {
        level.set(e.to, level.get(id)! + 1);
        queue.push(e.to);
      }
    }
  }
  const last = Math.max(0, ...level.values()) + 1;
  for (const n of graph.nodes) if (!level.has(n.id)) level.set(n.id, last);
  return level;
}

/** `errors`: the last error of each failed node (from its steps), shown on the node. */
export function GraphView({ graph, errors = {} }: { graph: Graph; errors?: Record<string, string> }) {
  const level = columns(graph);
  const rowsInColumn = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const n of graph.nodes) {
    const col = level.get(n.id)!;
    const row = rowsInColumn.get(col) ?? 0;
    rowsInColumn.set(col, row + 1);
    pos.set(n.id, { x: 8 + col * (W + GAP_X), y: 8 + row * (H + GAP_Y) });
  }
  const width = Math.max(...[...pos.values()].map((p) => p.x + W + 8), 200);
  const height = Math.max(...[...pos.values()].map((p) => p.y + H + 8), 60);
  return (
    <figure style="margin: 0">
      <div style="overflow-x: auto">
        <svg
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-labelledby="graph-caption"
        >
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">
              <path d="M0,0 L10,5 L0,10 z" fill="#5b6475" />
            </marker>
          </defs>
          {graph.edges.map((e, i) => {
            const a = pos.get(e.from);
            const b = pos.get(e.to);
            if (!a || !b) return null;
            const x1 = a.x + W;
            const y1 = a.y + H / 2;
            const x2 = b.x;
            const y2 = b.y + H / 2;
            const back = x2 <= a.x;
            const d = back
              ? `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${a.y + H + 40} ${b.x + W / 2},${b.y + H + 40} ${b.x + W / 2},${b.y + H}`
              : `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`;
            return (
              <g key={i}>
                <path
                  d={d}
                  fill="none"
                  stroke={e.taken ? '#1d2330' : '#b8bec9'}
                  stroke-width={e.taken ? 2 : 1}
                  stroke-dasharray={e.taken ? undefined : '4 3'}
                  marker-end="url(#arrow)"
                />
                {e.outcome !== 'default' && (
                  <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 4} font-size="10" fill="#5b6475" text-anchor="middle">
                    {e.outcome}
                  </text>
                )}
              </g>
            );
          })}
          {graph.nodes.map((n) => {
            const p = pos.get(n.id)!;
            return (
              <g key={n.id} class={`node-svg ${n.status}`} data-node={n.id} data-status={n.status}>
                <title>{errors[n.id] ? `${n.id}: ${n.status}: ${errors[n.id]}` : `${n.id}: ${n.status}`}</title>
                <rect x={p.x} y={p.y} width={W} height={H} rx="6" class="node-box" />
                <text x={p.x + 8} y={p.y + 18} font-size="13" font-weight="600">
                  {n.id.length > 18 ? `${n.id.slice(0, 17)}…` : n.id}
                </text>
                <text x={p.x + 8} y={p.y + 35} font-size="11" fill="#5b6475">
                  {n.type} · {n.status}
                  {n.attempts > 1 ? ` · ${n.attempts} attempts` : ''}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption id="graph-caption">
        <ul class="graph-states" aria-label="Node states">
          {graph.nodes.map((n) => (
            <li key={n.id} data-node-state={n.id}>
              <code>{n.id}</code>: <span class={`status status-${n.status}`}>{n.status}</span>
              {errors[n.id] && <span class="node-error"> {errors[n.id]}</span>}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
