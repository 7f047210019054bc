/** An execution's graph: the pinned definition's nodes and edges, each node with its status and attempts. */
import { parse as parseYaml } from 'yaml';
import type { Db } from '../db/knex';
import type { StepRow } from '../db/tables';
import { edgesOf, type FlowDocument } from '../engine/definition';
import { findFlowVersion } from '../repositories/flows.repository';
import { listStepRows } from '../repositories/steps.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';
import type { WaitingFor } from './waiting';

export class GraphService {
  constructor(
    private readonly db: Db,
    private readonly executions: ExecutionsService,
  ) {}

  async get(actor: Actor, id: string) {
    const ex = await this.executions.get(actor, id);
    // The YAML text keeps the author's order of nodes and edges (jsonb sorts keys).
    const version = (await findFlowVersion(this.db, ex.flow_id, ex.flow_version))!;
    const document = {
      ...(parseYaml(version.definition) as FlowDocument),
      entry: (version.document as FlowDocument).entry,
    };
    const { rows: steps } = await listStepRows(this.db, id, 100_000, 0);
    const byNode = new Map<string, StepRow[]>();
    for (const s of steps) byNode.set(s.node_id, [...(byNode.get(s.node_id) ?? []), s]);
    const waitingAt = (ex.waiting_for as WaitingFor | null)?.node_id;
    const finished = ['completed', 'failed', 'cancelled'].includes(ex.status);
    const nodes = Object.entries(document.nodes).map(([nodeId, node]) => {
      const mine = byNode.get(nodeId) ?? [];
      const last = mine[mine.length - 1];
      let status: 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'waiting';
      if (ex.status === 'waiting' && waitingAt === nodeId) status = 'waiting';
      else if (
        !finished &&
        ex.current_node === nodeId &&
        ex.status === 'running' &&
        (!last || last.status === 'failed')
      )
        status = 'running';
      else if (last)
        status = last.status === 'completed' ? 'completed' : last.status === 'failed' ? 'failed' : 'skipped';
      else status = finished ? 'skipped' : 'pending';
      return { id: nodeId, type: node.type, status, attempts: mine.length };
    });
    const ran = new Set(steps.filter((s) => s.status === 'completed' || s.status === 'failed').map((s) => s.node_id));
    const edges = Object.entries(document.nodes).flatMap(([from, node]) => {
      return Object.entries(edgesOf(node)).map(([outcome, to]) => ({
        from,
        to,
        outcome,
        taken: ran.has(from) && (ran.has(to) || waitingAt === to) && edgeTaken(steps, from, to),
      }));
    });
    return { entry: document.entry, nodes, edges };
  }
}

/** An edge counts as taken when a step of `to` started after one of `from` finished. */
function edgeTaken(steps: StepRow[], from: string, to: string): boolean {
  const fromDone = steps.filter((s) => s.node_id === from && s.completed_at).map((s) => s.completed_at!.getTime());
  const toStarted = steps.filter((s) => s.node_id === to && s.started_at).map((s) => s.started_at!.getTime());
  return fromDone.some((f) => toStarted.some((t) => t >= f)) || (toStarted.length === 0 && fromDone.length > 0);
}
