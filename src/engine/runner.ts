/**
 * Runs one claimed task: resolves the node's params, executes it, and commits the step, the next
 * task and the events in one transaction (step-commit.ts) — only while this worker still holds
 * the task's lease.
 */
import type { Config } from '../config';
import type { Db, Tx } from '../db/knex';
import { inTransaction } from '../db/transaction';
import { FINAL_STATUSES, type ExecutionRow, type TaskRow } from '../db/tables';
import type { NewEvent } from '../repositories/events.repository';
import type { ItemEnd } from '../repositories/foreach.repository';
import { appendEvents } from '../repositories/events.repository';
import { lockExecution, updateExecution } from '../repositories/executions.repository';
import { findFlowVersion, findLiveFlow } from '../repositories/flows.repository';
import {
  countEngineFailure,
  lockLeasedTask,
  sleepLeasedTask,
  takeLeasedTask,
  type ClaimedTask,
} from '../repositories/tasks.repository';
import { edgesOf, nodeCount, nodeOf, type FlowDocument, type NodeDefinition } from './definition';
import { ExpressionLimitError, resolveTemplates } from './expressions';
import { engineFiles } from './files';
import { runsInline } from './inline';
import { iterationScope } from './foreach-commit';
import { failPoisonedExecution } from './lifecycle';
import type { HttpGuard, OutboundRequest } from './http-guard';
import { nodeType } from './nodes';
import { deferral } from './rate-limit';
import { NodeError } from './nodes/types';
import type { RunSecretsSource } from './ports';
import type { ConnectionAuth } from './connections';
import { IterationCommitter, StepCommitter } from './committer';
import { commitStep, logEvent, planStep, type LogLevel, type StepOutcome, type StepPlan } from './step-commit';

export class LeaseLostError extends Error {}

/** The abort reason a worker gives when it stops (as opposed to a cancelled execution). */
export const SHUTDOWN = 'shutdown';

/** How often the engine itself may fail on one task before its execution fails with internal_error. */
export const MAX_ENGINE_FAILURES = 3;

export class StepRunner {
  private readonly documents = new Map<string, FlowDocument>();
  private readonly committer: StepCommitter;
  private readonly iterationCommitter: IterationCommitter;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly http: HttpGuard,
    private readonly secrets: RunSecretsSource,
    private readonly connections: ConnectionAuth,
    readonly workerId: string,
    /** Told of each execution a batched step finished, with its committed row (before any NOTIFY comes back). */
    private readonly finished: (execution: ExecutionRow) => void = () => {},
  ) {
    this.committer = new StepCommitter(db, workerId, config.leaseMs);
    this.iterationCommitter = new IterationCommitter(db, workerId, config.leaseMs);
  }

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

  /**
   * Counts a failure of the engine on a task it holds (the step's own transaction rolled back).
   * Below the cap the task runs again after its lease expires; at the cap its execution fails with
   * internal_error, in a transaction of its own that carries nothing of the failed step.
   */
  async recordEngineFailure(task: TaskRow): Promise<'retry' | 'failed'> {
    return inTransaction(this.db, async (tx) => {
      const failures = await countEngineFailure(tx, task.id, this.workerId);
      if (failures === undefined || failures < MAX_ENGINE_FAILURES) return 'retry';
      const ex = await lockExecution(tx, task.execution_id);
      if (!ex || FINAL_STATUSES.includes(ex.status)) await takeLeasedTask(tx, task.id, this.workerId);
      else await failPoisonedExecution(tx, ex, task, failures);
      return 'failed';
    });
  }

  /** A live flow of the execution's organization and its version, for a subflow. */
  private async resolveFlow(
    organizationId: string,
    flowId: string,
    version?: number,
  ): Promise<{ flow_id: string; version: number; entry: string; nodes_total: number }> {
    const flow = await findLiveFlow(this.db, flowId);
    if (!flow || flow.organization_id !== organizationId) throw new NodeError(`subflow: flow "${flowId}" not found`);
    const number = version ?? flow.current_version;
    const row = await findFlowVersion(this.db, flowId, number);
    if (!row) throw new NodeError(`subflow: flow "${flowId}" has no version ${number}`);
    const document = row.document as FlowDocument;
    return { flow_id: flowId, version: number, entry: document.entry!, nodes_total: nodeCount(document) };
  }

  /**
   * Runs the claimed task and commits what it did. A step that simply completed or failed goes to
   * the batch committer; anything more (a wait, a sleep, a cancel, a subflow's end) commits in a
   * transaction of its own; a foreach iteration's last step, and any of its steps that needs a
   * transaction, go to the IterationCommitter, with its siblings. Calls `executed` once the node is done (before the commit). Returns the
   * tasks handed over to this worker in memory: the execution's next one, or the foreach
   * iterations started in place of the one this step ended.
   */
  async run(
    claimed: ClaimedTask,
    signal: AbortSignal,
    handOver: () => boolean,
    executed: () => void = () => {},
  ): Promise<ClaimedTask[]> {
    const { task, execution } = claimed;
    if (FINAL_STATUSES.includes(execution.status)) {
      await inTransaction(this.db, (tx) => takeLeasedTask(tx, task.id, this.workerId));
      return [];
    }
    const { document, node, secrets, scope } = await this.prepare(claimed);
    let current = execution;
    let announcedAt: Date | undefined;
    if (task.state === null && nodeType(node.type)?.announces) {
      announcedAt = new Date();
      current = await this.announce(task, execution, node, announcedAt);
    }
    // Tokens the step's connections fetched: masked like secrets in all it writes.
    const fetched: string[] = [];
    const outcome = await this.execute(task, current, node, scope, signal, fetched, announcedAt);
    executed();
    // Stopped by a shutdown: leave the task for another worker rather than record a failure.
    if (signal.aborted && signal.reason === SHUTDOWN) return [];
    const step = {
      execution: current,
      document,
      task,
      node,
      scope,
      masker: secrets.masker.with(fetched),
      maxSteps: this.config.maxStepsPerExecution,
      now: new Date(),
    };
    const plan = await planStep(step, outcome);
    if (plan) {
      // Running what follows in memory is a hand-over too: not when this worker takes no more (it stops).
      const plans = handOver() ? await this.onward(plan, task) : [plan];
      // A foreach's iteration ends with its siblings: the foreach moves on once for them all.
      const ends = execution.iteration && FINAL_STATUSES.includes(plans[plans.length - 1].after.status);
      const committed = ends
        ? await this.iterationCommitter.commitPlans(plans, handOver())
        : await this.committer.commit(plans, handOver());
      if (!committed.applied) throw new LeaseLostError(`task ${task.id}: the lease was lost or the execution ended`);
      if (committed.finished) this.finished(committed.finished);
      if (committed.next?.lease_owner === this.workerId)
        return [{ task: committed.next, execution: plans[plans.length - 1].after }];
      return committed.started ?? [];
    }
    // `ends`: where an iteration's end goes when its batch moves the foreach on (else at once).
    const commit = async (tx: Tx, ends?: ItemEnd[]) => {
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
      await commitStep(tx, { ...step, execution: current, itemEnds: ends }, outcome);
    };
    if (execution.iteration) return (await this.iterationCommitter.commit(commit, handOver())).started ?? [];
    await inTransaction(this.db, (tx) => commit(tx));
    return [];
  }

  /** The step's definition, node, secrets and template scope. */
  private async prepare({ task, execution }: ClaimedTask) {
    const document = await this.document(execution.flow_id, execution.flow_version);
    const node = nodeOf(document, task.node_id);
    if (!node) throw new Error(`node "${task.node_id}" is not in the pinned definition`);
    // Read for every step: a secret changed a moment ago must be used (and masked) at once. They
    // are the execution's organization's, whoever started it.
    const secrets = await this.secrets.resolveForRun(execution.organization_id);
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
      request: execution.flow_request,
      files: execution.input_files ?? [],
      ...iterationScope(execution),
    };
    return { document, node, secrets, scope };
  }

  /**
   * Runs a start's entry node before the start commits (see `startsInline`, which the starter
   * checked), and the nodes after it that may run in memory too (`onward`); answers the plans to
   * commit with the start, or undefined when the entry node is not of an inline type or its step
   * does more than complete or fail (the task, leased to this worker, then runs the usual way).
   */
  async planInline(claimed: ClaimedTask): Promise<StepPlan[] | undefined> {
    const plan = await this.planInMemory(claimed);
    return plan && this.onward(plan, claimed.task);
  }

  /**
   * The plans of the steps that follow `plan` in memory: while its next node is due now and may
   * run in memory (inline.ts), it runs on the row the plan leaves, up to FLOWRUNNER_STEPS_IN_MEMORY
   * steps in all; they commit together, as one write. Nothing of them is seen until that commit,
   * and should the process die first they run again from the last commit: they compute, nothing
   * else.
   */
  private async onward(plan: StepPlan, task: TaskRow): Promise<StepPlan[]> {
    const plans = [plan];
    for (let last = plan; plans.length < this.config.stepsInMemory;) {
      const next = last.next;
      if (!next || next.runAt !== undefined || FINAL_STATUSES.includes(last.after.status)) break;
      const document = await this.document(last.after.flow_id, last.after.flow_version);
      if (!runsInline(document, next.node)) break;
      const following = await this.planInMemory({
        task: { ...task, node_id: next.node, attempt: next.attempt, state: null },
        execution: last.after,
      }).catch(() => undefined);
      if (!following) break;
      plans.push(following);
      last = following;
    }
    return plans;
  }

  /** Runs one node of an inline type in memory and answers its plan (undefined: not inline, or more than a plan). */
  private async planInMemory(claimed: ClaimedTask): Promise<StepPlan | undefined> {
    const { task, execution } = claimed;
    const { document, node, secrets, scope } = await this.prepare(claimed);
    if (!nodeType(node.type)?.inline) return undefined;
    // It computes and is never cancelled halfway: a signal of its own that never aborts.
    const outcome = await this.execute(task, execution, node, scope, new AbortController().signal, []);
    const step = {
      execution,
      document,
      task,
      node,
      scope,
      masker: secrets.masker,
      maxSteps: this.config.maxStepsPerExecution,
      now: new Date(),
    };
    return planStep(step, outcome);
  }

  /** Tells the process of an execution that a step of this worker finished (see the constructor). */
  finishedHere(execution: ExecutionRow): void {
    this.finished(execution);
  }

  /**
   * Commits that the node began (it waits on the outside world, so a client should see it running):
   * the execution's current node and since when, `node_started` and the running state. Only while
   * this worker holds the task and the execution is not finished; the row as it now stands.
   */
  private async announce(
    task: TaskRow,
    execution: ExecutionRow,
    node: NodeDefinition,
    at: Date,
  ): Promise<ExecutionRow> {
    return inTransaction(this.db, async (tx) => {
      if (!(await lockLeasedTask(tx, task.id, this.workerId)))
        throw new LeaseLostError(`lost the lease of task ${task.id}`);
      const ex = (await lockExecution(tx, execution.id))!;
      if (FINAL_STATUSES.includes(ex.status))
        throw new LeaseLostError(`execution ${ex.id} ended before node ${task.node_id} began`);
      const about = { node_id: task.node_id, node_type: node.type };
      const patch: Partial<ExecutionRow> = {
        status: 'running',
        current_node: task.node_id,
        node_started_at: at,
        waiting_until: null,
        started_at: ex.started_at ?? at,
      };
      await updateExecution(tx, ex.id, patch);
      const events: NewEvent[] = [
        ...(ex.status === 'queued' ? [logEvent(about, 'info', 'Execution started', null, at)] : []),
        { type: 'execution_update', payload: { status: 'running', ...about }, at },
        { type: 'node_started', payload: { ...about, attempt: task.attempt }, at },
      ];
      await appendEvents(tx, ex.id, events);
      return { ...ex, ...patch, event_seq: ex.event_seq + events.length };
    });
  }

  private async execute(
    task: TaskRow,
    execution: ExecutionRow,
    node: NodeDefinition,
    scope: Record<string, unknown>,
    signal: AbortSignal,
    fetched: string[],
    announcedAt?: Date,
  ): Promise<StepOutcome> {
    const startedAt = announcedAt ?? new Date();
    const announced = announcedAt !== undefined;
    const logs: NewEvent[] = [];
    const module = nodeType(node.type)!;
    const about = { node_id: task.node_id, node_type: node.type };
    const log = (level: LogLevel, message: string, data?: Record<string, unknown>) =>
      logs.push(logEvent(about, level, message, data ?? null));
    let params: Record<string, unknown> | undefined;
    try {
      params = (await resolveTemplates(node.params ?? {}, scope)) as Record<string, unknown>;
    } catch (err) {
      const error = nodeErrorOf(err, task.node_id, 'a template of the params', 'a template in the params failed: ');
      return { error, logs, startedAt, announced };
    }
    // A node over its rate limit sleeps until its reserved call (rate-limit.ts), holding no worker.
    try {
      const deferred = await deferral(this.db, execution, task, node, params, scope);
      if (deferred) {
        const { key, per_second, until } = deferred.limited;
        log('info', `Rate limit of ${per_second} a second for ${key}: deferred until ${until}`, {
          ...deferred.limited,
        });
        return { result: { sleepUntil: deferred }, params, logs, startedAt, announced };
      }
    } catch (err) {
      return { error: nodeErrorOf(err, task.node_id, 'the rate limit key'), params, logs, startedAt, announced };
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
        resolveFlow: (flowId: string, version?: number) => this.resolveFlow(execution.organization_id, flowId, version),
        files: engineFiles(this.db, this.config.maxFileBytes, execution, task.node_id),
        authorize: async (name: string, req: Omit<OutboundRequest, 'signal'>, refresh: boolean) => {
          const authorized = await this.connections.authorize(execution.organization_id, name, req, {
            refresh,
            signal: nodeSignal,
          });
          fetched.push(...authorized.secrets);
          return authorized;
        },
      };
      const result = await Promise.race([
        module.execute({ params, scope, http: this.http, signal: nodeSignal, state: task.state, log, engine, edges }),
        aborted,
      ]);
      return { result, params, logs, startedAt, announced };
    } catch (err) {
      return { error: nodeErrorOf(err, task.node_id, 'the expression'), params, logs, startedAt, announced };
    }
  }
}

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
