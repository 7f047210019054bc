/**
 * Runs one claimed task: resolves the node's params, executes it, and commits the step, the next
 * task and the events in one transaction — only while this worker still holds the task's lease.
 */
import type { Knex } from 'knex';
import type { Config } from '../config';
import { FINAL_STATUSES, type ExecutionRow, type TaskRow } from '../db/tables';
import { appendEvents, type NewEvent } from '../repositories/events.repository';
import { findExecution, lockExecution, updateExecution } from '../repositories/executions.repository';
import { findFlowVersion, findLiveFlow } from '../repositories/flows.repository';
import { newId } from '../db/ids';
import { cancelExecution, createExecution, notifyParent } from './lifecycle';
import { insertStep } from '../repositories/steps.repository';
import { insertTask, sleepLeasedTask, takeLeasedTask } from '../repositories/tasks.repository';
import type { SecretsService, RunSecrets } from '../services/secrets.service';
import { edgesOf, type FlowDocument, type NodeDefinition } from './definition';
import { ExpressionLimitError, resolveTemplates } from './expressions';
import type { HttpGuard } from './http-guard';
import { nodeType } from './nodes';
import { NodeError, type NodeResult, type Wait } from './nodes/types';

type Level = 'debug' | 'info' | 'warn' | 'error';

interface Outcome {
  result?: NodeResult;
  error?: NodeError;
  params?: unknown;
  logs: NewEvent[];
  startedAt: Date;
}

export class LeaseLostError extends Error {}

/**
 * A node's failure from whatever it threw. An expression limit is the flow's own doing (the same
 * expression over the same data hits it again), so it is not retryable: retrying would only
 * multiply what a runaway flow costs. The node's `error` edge still catches it.
 */
function nodeErrorOf(err: unknown, nodeId: string, what: string, prefix = ''): NodeError {
  if (err instanceof NodeError) return err;
  if (err instanceof ExpressionLimitError)
    return new NodeError(err.explain(`${what} in node "${nodeId}"`), false, false, {
      code: err.code,
      limit: err.limit,
      node_id: nodeId,
      expression: err.expression ?? null,
    });
  return new NodeError(prefix + ((err as Error)?.message ?? String(err)));
}

function maskEvents(events: NewEvent[], masker: RunSecrets['masker']): NewEvent[] {
  return masker.empty ? events : events.map((e) => ({ ...e, payload: masker.json(e.payload) }));
}

/** The abort reason a worker gives when it stops (as opposed to a cancelled execution). */
export const SHUTDOWN = 'shutdown';

export class StepRunner {
  private readonly documents = new Map<string, FlowDocument>();

  constructor(
    private readonly db: Knex,
    private readonly config: Config,
    private readonly http: HttpGuard,
    private readonly secrets: SecretsService,
    readonly workerId: string,
  ) {}

  /** Versions are immutable, so a worker may keep their parsed documents. */
  private async document(flowId: string, version: number): Promise<FlowDocument> {
    const key = `${flowId}@${version}`;
    let doc = this.documents.get(key);
    if (!doc) {
      const row = await findFlowVersion(this.db, flowId, version);
      if (!row) throw new Error(`flow version ${key} is missing`);
      doc = row.document as FlowDocument;
      if (this.documents.size > 1000) this.documents.clear();
      this.documents.set(key, doc);
    }
    return doc;
  }

  /** A live flow of the execution's owner and its version, for a subflow. */
  private async resolveFlow(
    accountId: string,
    flowId: string,
    version?: number,
  ): Promise<{ flow_id: string; version: number; entry: string }> {
    const flow = await findLiveFlow(this.db, flowId);
    if (!flow || flow.account_id !== accountId) throw new NodeError(`subflow: flow "${flowId}" not found`);
    const number = version ?? flow.current_version;
    const row = await findFlowVersion(this.db, flowId, number);
    if (!row) throw new NodeError(`subflow: flow "${flowId}" has no version ${number}`);
    return { flow_id: flowId, version: number, entry: (row.document as FlowDocument).entry! };
  }

  async run(task: TaskRow, signal: AbortSignal): Promise<void> {
    const execution = await findExecution(this.db, task.execution_id);
    if (!execution || FINAL_STATUSES.includes(execution.status)) {
      await this.db.transaction((tx) => takeLeasedTask(tx, task.id, this.workerId));
      return;
    }
    const document = await this.document(execution.flow_id, execution.flow_version);
    const node = document.nodes[task.node_id];
    // Read fresh for every step: a secret changed a moment ago must be used (and masked) at once.
    const secrets = await this.secrets.resolveForRun(execution.account_id);
    const scope = {
      input: execution.input,
      nodes: execution.node_outputs,
      secrets: secrets.values,
      execution: {
        id: execution.id,
        flow_id: execution.flow_id,
        flow_version: execution.flow_version,
        attempt: task.attempt,
      },
    };
    const outcome = await this.execute(task, execution, node, scope, signal);
    // Stopped by a shutdown: leave the task for another worker rather than record a failure.
    if (signal.aborted && signal.reason === SHUTDOWN) return;
    const masker = secrets.masker;
    await this.db.transaction(async (tx) => {
      const finished = outcome.result?.sleepUntil
        ? await sleepLeasedTask(
            tx,
            task.id,
            this.workerId,
            outcome.result.sleepUntil.at,
            outcome.result.sleepUntil.state,
          )
        : await takeLeasedTask(tx, task.id, this.workerId);
      if (!finished) throw new LeaseLostError(`lost the lease of task ${task.id}`);
      const current = (await lockExecution(tx, execution.id))!;
      if (FINAL_STATUSES.includes(current.status)) return;
      await this.commit(tx, current, document, task, node, outcome, scope, masker);
    });
  }

  private async execute(
    task: TaskRow,
    execution: ExecutionRow,
    node: NodeDefinition,
    scope: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const startedAt = new Date();
    const logs: NewEvent[] = [];
    const module = nodeType(node.type)!;
    const log = (level: Level, message: string, data?: Record<string, unknown>) =>
      logs.push({
        type: 'log',
        level,
        payload: { level, message, node_id: task.node_id, node_type: node.type, data: data ?? null },
      });
    let params: Record<string, unknown> | undefined;
    try {
      params = (await resolveTemplates(node.params ?? {}, scope)) as Record<string, unknown>;
    } catch (err) {
      const error = nodeErrorOf(err, task.node_id, 'a template of the params', 'a template in the params failed: ');
      return { error, logs, startedAt };
    }
    if (!module.execute) {
      return { params, error: new NodeError(`node type "${node.type}" cannot run yet`), logs, startedAt };
    }
    const timeout = node.timeout_ms ? AbortSignal.timeout(node.timeout_ms) : undefined;
    const nodeSignal = timeout ? AbortSignal.any([signal, timeout]) : signal;
    try {
      const aborted = new Promise<never>((_, reject) => {
        const fail = () =>
          reject(
            new NodeError(
              signal.aborted ? 'the execution was cancelled' : `node timed out after ${node.timeout_ms} ms`,
              !signal.aborted,
            ),
          );
        if (nodeSignal.aborted) fail();
        nodeSignal.addEventListener('abort', fail, { once: true });
      });
      const edges = Object.keys(edgesOf(node));
      const engine = {
        execution: { id: execution.id, account_id: execution.account_id, depth: execution.depth },
        resolveFlow: (flowId: string, version?: number) => this.resolveFlow(execution.account_id, flowId, version),
      };
      const result = await Promise.race([
        module.execute({ params, scope, http: this.http, signal: nodeSignal, state: task.state, log, engine, edges }),
        aborted,
      ]);
      return { result, params, logs, startedAt };
    } catch (err) {
      return { error: nodeErrorOf(err, task.node_id, 'the expression'), params, logs, startedAt };
    }
  }

  private async commit(
    tx: Knex.Transaction,
    ex: ExecutionRow,
    document: FlowDocument,
    task: TaskRow,
    node: NodeDefinition,
    outcome: Outcome,
    scope: Record<string, unknown>,
    masker: RunSecrets['masker'],
  ): Promise<void> {
    const now = new Date();
    const events: NewEvent[] = [];
    const patch: Partial<ExecutionRow> = { current_node: task.node_id };
    const about = { node_id: task.node_id, node_type: node.type };
    if (ex.status === 'queued') {
      patch.status = 'running';
      patch.started_at = outcome.startedAt;
      events.push({
        type: 'log',
        level: 'info',
        payload: { level: 'info', message: 'Execution started', ...about, data: null },
        at: outcome.startedAt,
      });
    }
    if (outcome.result?.sleepUntil) {
      events.push({
        type: 'log',
        level: 'info',
        payload: {
          level: 'info',
          message: `Waiting until ${outcome.result.sleepUntil.at.toISOString()}`,
          ...about,
          data: null,
        },
      });
      await appendEvents(tx, ex.id, maskEvents(events, masker));
      await updateExecution(tx, ex.id, patch);
      return;
    }
    if (ex.status === 'waiting') {
      patch.status = 'running';
      patch.waiting_for = null;
    }
    events.push(
      { type: 'execution_update', payload: { status: 'running', ...about }, at: outcome.startedAt },
      ...outcome.logs,
    );
    if (outcome.result?.wait) {
      await this.startWaiting(tx, ex, task, node, outcome.result.wait, patch, events);
      await appendEvents(tx, ex.id, maskEvents(events, masker));
      await updateExecution(tx, ex.id, patch);
      return;
    }
    const edges = edgesOf(node);
    const stepCount = ex.step_count + 1;
    patch.step_count = stepCount;
    const step = {
      execution_id: ex.id,
      node_id: task.node_id,
      node_type: node.type,
      attempt: task.attempt,
      input: masker.json(outcome.params ?? null),
      actor_id: outcome.result?.actorId ?? null,
      started_at: outcome.startedAt,
      completed_at: now,
    };
    const fail = (message: string, data: Record<string, unknown> | null = null) => {
      patch.status = 'failed';
      patch.error = message;
      patch.completed_at = now;
      events.push(
        {
          type: 'log',
          level: 'error',
          payload: { level: 'error', message: `Execution failed: ${message}`, ...about, data },
        },
        { type: 'execution_failed', payload: { status: 'failed', error: message, ...about } },
      );
    };
    let next: { node: string; attempt: number; runAt?: Date } | undefined;

    if (outcome.result) {
      const output = outcome.result.output ?? null;
      await insertStep(tx, { ...step, status: 'completed', output: masker.json(output), error: null });
      patch.node_outputs = { ...ex.node_outputs, [task.node_id]: { output } };
      if (outcome.result.setValues) patch.state_values = { ...ex.state_values, ...outcome.result.setValues };
      events.push({ type: 'node_completed', payload: { ...about, result: output } });
      if (outcome.result.cancel) {
        await appendEvents(tx, ex.id, maskEvents(events, masker));
        await updateExecution(tx, ex.id, patch);
        await cancelExecution(
          tx,
          { ...ex, ...patch } as ExecutionRow,
          outcome.result.cancel,
          outcome.result.actorId ?? null,
        );
        return;
      }
      const label = outcome.result.outcome ?? 'default';
      const target = edges[label] ?? edges.default;
      if (target) next = { node: target, attempt: 1 };
      else {
        let result: unknown = output;
        try {
          if (document.output !== undefined)
            result = await resolveTemplates(document.output, { ...scope, nodes: patch.node_outputs });
        } catch (err) {
          if (err instanceof ExpressionLimitError)
            fail(err.explain("the flow's output template"), {
              code: err.code,
              limit: err.limit,
              expression: err.expression ?? null,
            });
          else fail(`the flow's output template failed: ${(err as Error).message}`);
        }
        if (!patch.status || patch.status === 'running') {
          patch.status = 'completed';
          patch.result = result ?? null;
          patch.completed_at = now;
          events.push(
            {
              type: 'log',
              level: 'info',
              payload: { level: 'info', message: 'Execution completed', ...about, data: null },
            },
            { type: 'execution_completed', payload: { status: 'completed', result: result ?? null } },
          );
        }
      }
    } else {
      const error = outcome.error!;
      const failedOutput = (error as NodeError & { output?: unknown }).output;
      await insertStep(tx, {
        ...step,
        status: 'failed',
        output: masker.json(failedOutput ?? null),
        error: masker.text(error.message),
      });
      const retry = node.retry ?? {};
      const maxAttempts = retry.max_attempts ?? 1;
      if (error.retryable && !error.fatal && task.attempt < maxAttempts) {
        const base = retry.backoff_ms ?? 1000;
        const delay = Math.min(
          base * Math.pow(retry.backoff_multiplier ?? 2, task.attempt - 1),
          retry.max_backoff_ms ?? 300_000,
        );
        next = { node: task.node_id, attempt: task.attempt + 1, runAt: new Date(now.getTime() + delay) };
        events.push({
          type: 'log',
          level: 'warn',
          payload: {
            level: 'warn',
            message: `Attempt ${task.attempt} of ${maxAttempts} failed: ${error.message}; retrying in ${delay} ms`,
            ...about,
            data: { attempt: task.attempt, delay_ms: delay },
          },
        });
      } else if (edges.error && !error.fatal) {
        patch.node_outputs = {
          ...ex.node_outputs,
          [task.node_id]: { output: failedOutput ?? null, error: error.message },
        };
        events.push({
          type: 'log',
          level: 'warn',
          payload: {
            level: 'warn',
            message: `Node failed: ${error.message}; following its error edge`,
            ...about,
            data: error.detail ?? null,
          },
        });
        next = { node: edges.error, attempt: 1 };
      } else {
        fail(error.message, error.detail ?? null);
      }
    }
    if (next && stepCount >= this.config.maxStepsPerExecution) {
      next = undefined;
      fail(`the execution reached the limit of ${this.config.maxStepsPerExecution} steps`);
    }
    if (next)
      await insertTask(tx, { execution_id: ex.id, node_id: next.node, attempt: next.attempt, run_at: next.runAt });
    if (patch.result !== undefined) patch.result = masker.json(patch.result);
    if (patch.error) patch.error = masker.text(patch.error);
    // node_outputs stay unmasked: later templates need the real values; no endpoint returns them.
    await appendEvents(tx, ex.id, maskEvents(events, masker));
    await updateExecution(tx, ex.id, patch);
    if (patch.status === 'completed' || patch.status === 'failed')
      await notifyParent(tx, ex, patch.status, patch.result ?? null, patch.error ?? null);
  }

  /** The execution stops at this node until a person answers or a child execution ends. */
  private async startWaiting(
    tx: Knex.Transaction,
    ex: ExecutionRow,
    task: TaskRow,
    node: NodeDefinition,
    wait: Wait,
    patch: Partial<ExecutionRow>,
    events: NewEvent[],
  ): Promise<void> {
    const { child, ...shown } = wait;
    const waitingFor: Record<string, unknown> = { node_id: task.node_id, ...shown, deadline: wait.deadline ?? null };
    if (child) {
      const childId = newId('exec');
      await createExecution(tx, {
        id: childId,
        account_id: ex.account_id,
        flow_id: child.flow_id,
        flow_version: child.version,
        entry: child.entry,
        input: child.input,
        started_by: ex.started_by,
        parent_execution_id: ex.id,
        depth: ex.depth + 1,
      });
      waitingFor.child_execution_id = childId;
    }
    if (wait.deadline)
      await insertTask(tx, {
        execution_id: ex.id,
        node_id: task.node_id,
        attempt: task.attempt,
        run_at: new Date(wait.deadline),
        state: { timeout: true },
      });
    patch.status = 'waiting';
    patch.waiting_for = waitingFor;
    if (wait.kind === 'approval') patch.approval_status = 'pending';
    const what =
      wait.kind === 'subflow'
        ? `the subflow execution ${waitingFor.child_execution_id}`
        : wait.kind === 'approval'
          ? 'an approval'
          : 'input';
    events.push(
      { type: 'execution_update', payload: { status: 'waiting', node_id: task.node_id, node_type: node.type } },
      {
        type: 'log',
        level: 'info',
        payload: {
          level: 'info',
          message: `Waiting for ${what}`,
          node_id: task.node_id,
          node_type: node.type,
          data: wait.deadline ? { deadline: wait.deadline } : null,
        },
      },
    );
  }
}
