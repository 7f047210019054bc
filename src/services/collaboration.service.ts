/**
 * What people do with a running execution: approve or reject it, answer an input wait, read and
 * change its state values, look at its graph, and share it. A decision is validated here and
 * handed to the engine as a task for the waiting node, so the step, its edge and its events are
 * recorded exactly as for any other node.
 */
import type { Knex } from 'knex';
import { parse as parseYaml } from 'yaml';
import type { ExecutionRow, StepRow } from '../db/tables';
import { edgesOf, type FlowDocument } from '../engine/definition';
import { checkAgainstSchema } from '../engine/user-schemas';
import { cancelExecution } from '../engine/lifecycle';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { findAccountById } from '../repositories/accounts.repository';
import { appendEvents } from '../repositories/events.repository';
import { lockExecution, updateExecution } from '../repositories/executions.repository';
import { findFlowVersion } from '../repositories/flows.repository';
import { deleteShare, insertShare, listShareRows } from '../repositories/shares.repository';
import { insertStep, listStepRows } from '../repositories/steps.repository';
import { deleteExecutionTasks, insertTask } from '../repositories/tasks.repository';
import type { Actor } from './actor';
import type { ExecutionsService } from './executions.service';

interface WaitingFor {
  node_id: string | null;
  kind: 'approval' | 'input' | 'subflow';
  approvers?: string[];
  no_self_approval?: boolean;
  outcomes?: { name: string; label?: string }[];
}

const FLOW_APPROVAL_STEP = '$approval';

export class CollaborationService {
  constructor(
    private readonly db: Knex,
    private readonly executions: ExecutionsService,
  ) {}

  private async document(ex: ExecutionRow): Promise<FlowDocument> {
    return (await findFlowVersion(this.db, ex.flow_id, ex.flow_version))!.document as FlowDocument;
  }

  /** Locks the execution and returns what it waits for, when it waits for this kind. */
  private async lockWaiting(
    tx: Knex.Transaction,
    id: string,
    kind: WaitingFor['kind'],
  ): Promise<{ ex: ExecutionRow; waiting: WaitingFor }> {
    const ex = (await lockExecution(tx, id))!;
    const waiting = ex.waiting_for as WaitingFor | null;
    if (ex.status !== 'waiting' || !waiting || waiting.kind !== kind) {
      const what = kind === 'approval' ? 'No approval is pending' : 'The execution is not waiting for input';
      throw new ConflictError(
        `${what} (status ${ex.status}${ex.approval_status && kind === 'approval' ? `, approval ${ex.approval_status}` : ''})`,
      );
    }
    return { ex, waiting };
  }

  async decide(actor: Actor, id: string, decision: 'approved' | 'rejected', comment?: string): Promise<ExecutionRow> {
    await this.executions.get(actor, id);
    await this.db.transaction(async (tx) => {
      const { ex, waiting } = await this.lockWaiting(tx, id, 'approval');
      const approvers = waiting.approvers ?? [];
      const allowed =
        approvers.length === 0 ||
        approvers.includes(actor.accountId) ||
        (actor.role === 'admin' && approvers.includes('role:admin'));
      if (!allowed)
        throw new ForbiddenError('You are not one of the approvers of this execution', {
          reason: `approvers: ${approvers.join(', ')}`,
        });
      if (decision === 'approved' && waiting.no_self_approval && ex.started_by === actor.accountId) {
        throw new ForbiddenError('The account that started this execution may not approve it (no_self_approval)');
      }
      const verb = decision === 'approved' ? 'Approved' : 'Rejected';
      const log = {
        type: 'log' as const,
        level: 'info',
        payload: {
          level: 'info',
          message: `${verb} by ${actor.accountId}${comment ? `: ${comment}` : ''}`,
          node_id: waiting.node_id,
          node_type: 'approval',
          data: { decision, actor_id: actor.accountId, comment: comment ?? null },
        },
      };
      await deleteExecutionTasks(tx, id);
      if (waiting.node_id === null) {
        // The flow-level approval: decided here, before any node has run.
        const now = new Date();
        await insertStep(tx, {
          execution_id: id,
          node_id: FLOW_APPROVAL_STEP,
          node_type: 'approval',
          attempt: 1,
          status: 'completed',
          input: null,
          output: { decision, actor_id: actor.accountId, comment: comment ?? null },
          error: null,
          actor_id: actor.accountId,
          started_at: ex.created_at,
          completed_at: now,
        });
        await appendEvents(tx, id, [log]);
        if (decision === 'approved') {
          await updateExecution(tx, id, { status: 'queued', approval_status: 'approved', waiting_for: null });
          await appendEvents(tx, id, [
            { type: 'execution_update', payload: { status: 'queued', node_id: null, node_type: null } },
          ]);
          await insertTask(tx, { execution_id: id, node_id: (await this.document(ex)).entry! });
        } else {
          await updateExecution(tx, id, { approval_status: 'rejected' });
          await cancelExecution(tx, ex, `Rejected by ${actor.accountId}`, actor.accountId);
        }
        return;
      }
      await updateExecution(tx, id, { status: 'running', approval_status: decision, waiting_for: null });
      await appendEvents(tx, id, [log]);
      await insertTask(tx, {
        execution_id: id,
        node_id: waiting.node_id,
        state: { decision: { decision, actor_id: actor.accountId, comment: comment ?? null } },
      });
    });
    return this.executions.get(actor, id);
  }

  async signal(
    actor: Actor,
    id: string,
    nodeId: string,
    outcome: string,
    values: Record<string, unknown>,
  ): Promise<ExecutionRow> {
    const visible = await this.executions.get(actor, id);
    const document = await this.document(visible);
    await this.db.transaction(async (tx) => {
      const { waiting } = await this.lockWaiting(tx, id, 'input');
      if (waiting.node_id !== nodeId)
        throw new ConflictError(`The execution waits at node "${waiting.node_id}", not "${nodeId}"`, {
          field: 'node_id',
          reason: `waiting at ${waiting.node_id}`,
        });
      const names = (waiting.outcomes ?? []).map((o) => o.name);
      if (!names.includes(outcome))
        throw new ValidationError(`"${outcome}" is not an outcome of node ${nodeId}`, {
          field: 'outcome',
          reason: `one of ${names.join(', ')}`,
        });
      const schema = document.nodes[nodeId]?.params?.values_schema as Record<string, unknown> | undefined;
      if (schema)
        checkAgainstSchema(
          `${visible.flow_id}@${visible.flow_version}#${nodeId}`,
          schema,
          values,
          'values',
          `The values do not match node ${nodeId}'s values_schema`,
        );
      await updateExecution(tx, id, { status: 'running', waiting_for: null });
      await appendEvents(tx, id, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Input "${outcome}" given by ${actor.accountId}`,
            node_id: nodeId,
            node_type: 'input',
            data: { outcome, actor_id: actor.accountId },
          },
        },
      ]);
      await deleteExecutionTasks(tx, id);
      await insertTask(tx, {
        execution_id: id,
        node_id: nodeId,
        state: { signal: { outcome, values, actor_id: actor.accountId } },
      });
    });
    return this.executions.get(actor, id);
  }

  async values(actor: Actor, id: string): Promise<Record<string, unknown>> {
    return (await this.executions.get(actor, id)).state_values;
  }

  async setValues(actor: Actor, id: string, values: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.executions.get(actor, id);
    return this.db.transaction(async (tx) => {
      const ex = (await lockExecution(tx, id))!;
      if (ex.status !== 'waiting')
        throw new ConflictError(`Values can be changed only while the execution waits (status ${ex.status})`);
      const merged = { ...ex.state_values, ...values };
      await updateExecution(tx, id, { state_values: merged });
      await appendEvents(tx, id, [
        {
          type: 'log',
          level: 'info',
          payload: {
            level: 'info',
            message: `Values changed by ${actor.accountId}`,
            node_id: ex.current_node,
            node_type: null,
            data: { keys: Object.keys(values) },
          },
        },
      ]);
      return merged;
    });
  }

  /** The pinned definition's nodes and edges, each node with its status and attempts. */
  async graph(actor: Actor, id: string) {
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

  async shares(actor: Actor, id: string) {
    await this.executions.manage(actor, id, 'see who it is shared with');
    return listShareRows(this.db, id);
  }

  async share(actor: Actor, id: string, accountId: string) {
    const ex = await this.executions.manage(actor, id, 'share it');
    const account = await findAccountById(this.db, accountId);
    if (!account) throw new NotFoundError('Account not found');
    if (accountId === ex.account_id)
      throw new ConflictError('The owner already sees this execution', { field: 'account_id' });
    const created = await insertShare(this.db, { execution_id: id, account_id: accountId, shared_by: actor.accountId });
    if (!created) throw new ConflictError('The execution is already shared with this account', { field: 'account_id' });
    return { ...created, email: account.email, name: account.name };
  }

  async unshare(actor: Actor, id: string, accountId: string): Promise<void> {
    await this.executions.manage(actor, id, 'stop sharing it');
    if (!(await deleteShare(this.db, id, accountId)))
      throw new NotFoundError('The execution is not shared with this account');
  }
}

/** An edge counts as taken when a step of `to` started after one of `from` finished. */
function edgeTaken(steps: StepRow[], from: string, to: string): boolean {
  const fromDone = steps.filter((s) => s.node_id === from && s.completed_at).map((s) => s.completed_at!.getTime());
  const toStarted = steps.filter((s) => s.node_id === to && s.started_at).map((s) => s.started_at!.getTime());
  return fromDone.some((f) => toStarted.some((t) => t >= f)) || (toStarted.length === 0 && fromDone.length > 0);
}
