/**
 * Records what one step did, inside the transaction that took its task: the step row, the next
 * task, the execution's new state and the events that tell of it. Each stage below returns the
 * changes it makes to the execution row and the events it adds, in order; `write` stores them.
 */
import type { Tx } from '../db/knex';
import { newId } from '../db/ids';
import type { ExecutionRow, TaskRow } from '../db/tables';
import { appendEvents, type NewEvent } from '../repositories/events.repository';
import type { ItemEnd } from '../repositories/foreach.repository';
import { updateExecution } from '../repositories/executions.repository';
import type { StepChanges } from '../repositories/step-commits.repository';
import { insertStep, type NewStepRow } from '../repositories/steps.repository';
import { insertTask } from '../repositories/tasks.repository';
import type { Masker } from '../security/masking';
import { edgeFor, type FlowDocument, type NodeDefinition } from './definition';
import { ExpressionLimitError, resolveTemplates } from './expressions';
import { ValidationError } from '../errors';
import { checkAgainstSchema } from './user-schemas';
import { cancelExecution, createExecution, notifyParent } from './lifecycle';
import { arriveAtJoin, branchOf, startBranches } from './branch-commit';
import { itemEndOf, startForeach } from './foreach-commit';
import type { BranchOutcome } from './nodes/join';
import type { NodeError, NodeResult, Wait } from './nodes/types';
import { MAX_RETRY_AFTER_MS } from './rate-limit';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The node a log line or state change is about. */
export interface About {
  node_id: string;
  node_type: string;
}

/** What running the node gave: its result or the error it failed with, its resolved params, its log lines. */
export interface StepOutcome {
  result?: NodeResult;
  error?: NodeError;
  params?: unknown;
  logs: NewEvent[];
  startedAt: Date;
  /** Its beginning was committed before it ran (`announceStart`): its start events are not written again. */
  announced?: boolean;
}

/** The step being recorded, as its transaction sees it. */
export interface StepContext {
  /** The execution, locked, not finished. */
  execution: ExecutionRow;
  document: FlowDocument;
  task: TaskRow;
  node: NodeDefinition;
  /** The template scope the node ran with; the flow's `output` is evaluated over it too. */
  scope: Record<string, unknown>;
  masker: Masker;
  maxSteps: number;
  /** When the step is recorded: one clock for every time this commit stamps. */
  now: Date;
  /**
   * Where a foreach iteration's end goes when the caller moves the foreach on itself, for every
   * iteration its transaction ends (`foreachChildrenEnded`); else the end tells the parent at once.
   */
  itemEnds?: ItemEnd[];
}

/** Changes to the execution row, and the events that tell of them. */
interface Changes {
  patch: Partial<ExecutionRow>;
  events: NewEvent[];
}

export interface NextTask {
  node: string;
  attempt: number;
  runAt?: Date;
}

type End =
  | { status: 'completed'; result: unknown }
  | { status: 'failed'; error: string; detail?: Record<string, unknown> | null };

/** Where the execution goes after a step that completed or failed: on to a next task, or to its end. */
interface Route {
  changes: Changes;
  next?: NextTask;
  end?: End;
}

const NO_CHANGES: Changes = { patch: {}, events: [] };

export function logEvent(
  about: About,
  level: LogLevel,
  message: string,
  data: Record<string, unknown> | null = null,
  at?: Date,
): NewEvent {
  const event: NewEvent = { type: 'log', level, payload: { level, message, ...about, data } };
  return at ? { ...event, at } : event;
}

/** `b` after `a`: its patch wins where both set a column, its events follow. */
function and(...all: Changes[]): Changes {
  return all.reduce((a, b) => ({ patch: { ...a.patch, ...b.patch }, events: [...a.events, ...b.events] }), NO_CHANGES);
}

function aboutStep(step: StepContext): About {
  return { node_id: step.task.node_id, node_type: step.node.type };
}

function failedOutputOf(error: NodeError): unknown {
  return (error as NodeError & { output?: unknown }).output;
}

/** Commits the step; the stages run in this order, and the writes happen in it too. */
export async function commitStep(tx: Tx, step: StepContext, outcome: StepOutcome): Promise<void> {
  const { result } = outcome;
  const begun = begin(step, outcome.startedAt, outcome.announced);
  if (result?.sleepUntil) return write(tx, step, and(begun, sleeping(step, outcome, result.sleepUntil.at)));
  const running = and(begun, ran(step, outcome));
  if (result?.wait) return write(tx, step, and(running, await startWaiting(tx, step, result.wait)));
  if (result?.control?.kind === 'foreach') {
    const events = await startForeach(tx, step, result.control);
    return write(tx, step, and(running, { patch: {}, events }));
  }
  const recorded = and(running, await recordStep(tx, step, outcome));
  if (result?.control?.kind === 'fork')
    return write(tx, step, and(recorded, { patch: {}, events: await startBranches(tx, step) }));
  if (result?.cancel) {
    await write(tx, step, recorded);
    await cancelExecution(
      tx,
      { ...step.execution, ...recorded.patch } as ExecutionRow,
      result.cancel,
      result.actorId ?? null,
    );
    return;
  }
  const route = result
    ? await afterSuccess(step, result, recorded.patch.node_outputs!)
    : afterFailure(step, outcome.error!);
  await finish(tx, step, recorded, await throughBranch(tx, step, recorded, withinStepLimit(step, route)));
}

/**
 * In a parallel's branch, a step that leaves it (an edge to the join, no edge, a failure nothing
 * catches) arrives at the join instead of going on or ending the execution (branch-commit.ts).
 */
async function throughBranch(tx: Tx, step: StepContext, recorded: Changes, route: Route): Promise<Route> {
  const place = branchOf(step.document, step.task.node_id);
  if (!place || (route.next && route.next.node !== place.join)) return route;
  const own = recorded.patch.node_outputs?.[step.task.node_id] ?? route.changes.patch.node_outputs?.[step.task.node_id];
  const outcome: BranchOutcome =
    route.next || route.end?.status === 'completed'
      ? { status: 'completed', output: own?.output ?? null, error: null }
      : { status: 'failed', output: null, error: route.end?.status === 'failed' ? route.end.error : 'failed' };
  const events = await arriveAtJoin(tx, step, place, outcome);
  return { changes: and(route.changes, { patch: {}, events }) };
}

/**
 * A step written as data, for the steps that simply completed or failed (most of them): the
 * batch committer writes many of them in one statement. The execution's columns are merged, not
 * replaced, so API writes in between (state values) survive; the statement applies a plan only
 * while this worker still holds the task and the execution is still queued or running.
 */
export interface StepPlan extends StepChanges {
  step: NewStepRow;
  next: NextTask | null;
  /** The execution row as the commit leaves it: a next step handed over in memory starts from it. */
  after: ExecutionRow;
}

/**
 * The plan of a step that only completes or fails, or undefined when it does more (sleeps, waits,
 * cancels, starts or tells another execution): those go through `commitStep` in a transaction.
 * The end of a foreach's iteration is a plan all the same: the IterationCommitter writes it and
 * moves the foreach on in one transaction.
 */
export async function planStep(step: StepContext, outcome: StepOutcome): Promise<StepPlan | undefined> {
  const { result } = outcome;
  const { execution: ex, task, masker } = step;
  if (ex.status !== 'queued' && ex.status !== 'running') return undefined;
  if (result?.sleepUntil || result?.wait || result?.cancel) return undefined;
  // Parallel branches run side by side; the batch statement writes one step per execution at a time.
  if (result?.control || branchOf(step.document, task.node_id)) return undefined;
  const record = stepRecord(step, outcome);
  const recorded = and(begin(step, outcome.startedAt, outcome.announced), ran(step, outcome), record.changes);
  const route = withinStepLimit(
    step,
    result ? await afterSuccess(step, result, recorded.patch.node_outputs!) : afterFailure(step, outcome.error!),
  );
  // A subflow's child that ends tells its waiting parent, which takes the parent's lock: not a plan.
  if (route.end && ex.parent_execution_id && !ex.iteration) return undefined;
  const changes = and(recorded, route.changes, route.end ? ending(step, route.end) : NO_CHANGES);
  const patch = changes.patch;
  const events = masker.empty ? changes.events : changes.events.map((e) => ({ ...e, payload: masker.json(e.payload) }));
  return {
    taskId: task.id,
    executionId: ex.id,
    status: patch.status ?? null,
    startedAt: patch.started_at ?? null,
    currentNode: task.node_id,
    nodeStartedAt: patch.node_started_at ?? null,
    outputs: patch.node_outputs ? { [task.node_id]: patch.node_outputs[task.node_id] } : null,
    values: result?.setValues ?? null,
    result: patch.result ?? null,
    error: patch.error ?? null,
    completedAt: patch.completed_at ?? null,
    events,
    step: record.row,
    next: route.end ? null : (route.next ?? null),
    after: { ...ex, ...patch, event_seq: ex.event_seq + events.length },
  };
}

/**
 * Every step moves the execution to its node (on a fresh attempt, stamping when the node began);
 * the first one also starts the execution. A node resumed with state (after a delay, a wait) began
 * earlier.
 */
function begin(step: StepContext, startedAt: Date, announced = false): Changes {
  const atNode: Partial<ExecutionRow> = { current_node: step.task.node_id };
  if (step.task.state === null) atNode.node_started_at = startedAt;
  if (step.execution.status !== 'queued') return { patch: atNode, events: [] };
  return {
    patch: { ...atNode, status: 'running', started_at: startedAt },
    events: announced ? [] : [logEvent(aboutStep(step), 'info', 'Execution started', null, startedAt)],
  };
}

/** `node_started` for a fresh attempt of the node, unless it was announced when it began. */
function nodeStarted(step: StepContext, outcome: StepOutcome): NewEvent[] {
  if (step.task.state !== null || outcome.announced) return [];
  return [{ type: 'node_started', payload: { ...aboutStep(step), attempt: step.task.attempt }, at: outcome.startedAt }];
}

/** The node sleeps on (its task went back to sleep with the lease check): it waits until `until`. */
function sleeping(step: StepContext, outcome: StepOutcome, until: Date): Changes {
  return {
    patch: { waiting_until: until },
    // Its own log lines (a deferral by its rate limit says why) come before the wait.
    events: [
      ...nodeStarted(step, outcome),
      ...outcome.logs,
      logEvent(aboutStep(step), 'info', `Waiting until ${until.toISOString()}`),
    ],
  };
}

/** The node ran: the execution is running (again, after a wait), and the node's log lines follow. */
function ran(step: StepContext, outcome: StepOutcome): Changes {
  const update: NewEvent = {
    type: 'execution_update',
    payload: { status: 'running', ...aboutStep(step) },
    at: outcome.startedAt,
  };
  return {
    patch:
      step.execution.status === 'waiting'
        ? { status: 'running', waiting_for: null, waiting_until: null }
        : { waiting_until: null },
    // An announced node told its running state when it began.
    events: [...(outcome.announced ? [] : [update]), ...nodeStarted(step, outcome), ...outcome.logs],
  };
}

/** The execution stops at this node until a person answers or a child execution ends. */
async function startWaiting(tx: Tx, step: StepContext, wait: Wait): Promise<Changes> {
  const { execution: ex, task } = step;
  const { child, ...shown } = wait;
  const waitingFor: Record<string, unknown> = { node_id: task.node_id, ...shown, deadline: wait.deadline ?? null };
  if (child) {
    const childId = newId('exec');
    await createExecution(tx, {
      id: childId,
      account_id: ex.account_id,
      organization_id: ex.organization_id,
      flow_id: child.flow_id,
      flow_version: child.version,
      entry: child.entry,
      nodes_total: child.nodes_total,
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
  const patch: Partial<ExecutionRow> = {
    status: 'waiting',
    waiting_for: waitingFor,
    waiting_until: wait.deadline ? new Date(wait.deadline) : null,
  };
  if (wait.kind === 'approval') patch.approval_status = 'pending';
  const what =
    wait.kind === 'subflow'
      ? `the subflow execution ${waitingFor.child_execution_id}`
      : wait.kind === 'approval'
        ? 'an approval'
        : 'input';
  const about = aboutStep(step);
  return {
    patch,
    events: [
      { type: 'execution_update', payload: { status: 'waiting', ...about } },
      logEvent(about, 'info', `Waiting for ${what}`, wait.deadline ? { deadline: wait.deadline } : null),
    ],
  };
}

/** The step row to insert and what a completed node adds to the execution (its output, state values). */
function stepRecord(step: StepContext, outcome: StepOutcome): { row: NewStepRow; changes: Changes; output?: unknown } {
  const { execution: ex, task, masker } = step;
  const row = {
    execution_id: ex.id,
    node_id: task.node_id,
    node_type: step.node.type,
    attempt: task.attempt,
    input: masker.json(outcome.params ?? null),
    actor_id: outcome.result?.actorId ?? null,
    started_at: outcome.startedAt,
    completed_at: step.now,
  };
  const counted = { step_count: ex.step_count + 1 };
  const { result } = outcome;
  if (!result) {
    const error = outcome.error!;
    return {
      row: {
        ...row,
        status: 'failed',
        output: masker.json(failedOutputOf(error) ?? null),
        error: masker.text(error.message),
      },
      changes: { patch: counted, events: [] },
    };
  }
  const output = result.output ?? null;
  // Node outputs stay unmasked: later templates need the real values, and no endpoint returns them.
  const patch: Partial<ExecutionRow> = { ...counted, node_outputs: { ...ex.node_outputs, [task.node_id]: { output } } };
  if (result.setValues) patch.state_values = { ...ex.state_values, ...result.setValues };
  return {
    row: { ...row, status: 'completed', output: masker.json(output), error: null },
    changes: { patch, events: [{ type: 'node_completed', payload: { ...aboutStep(step), result: output } }] },
    output,
  };
}

/** Inserts the step row; a completed node's output (and state values) go on the execution. */
async function recordStep(tx: Tx, step: StepContext, outcome: StepOutcome): Promise<Changes> {
  const { row, changes } = stepRecord(step, outcome);
  await insertStep(tx, row);
  return changes;
}

/**
 * After a node completed: on along the edge its outcome names, else `default`; at a node with
 * neither the execution completes, with the flow's `output` when it declares one.
 */
async function afterSuccess(
  step: StepContext,
  result: NodeResult,
  nodeOutputs: ExecutionRow['node_outputs'],
): Promise<Route> {
  const target = edgeFor(step.node, result.outcome ?? 'default') ?? edgeFor(step.node, 'default');
  if (target) return { changes: NO_CHANGES, next: { node: target, attempt: 1 } };
  // A foreach's body iteration ends with its last node's output, not the flow's (nor its declared outputs).
  const output = step.execution.iteration?.body ? undefined : step.document.output;
  if (output === undefined) {
    const end = { status: 'completed' as const, result: result.output ?? null };
    return { changes: NO_CHANGES, end: step.execution.iteration?.body ? end : declaredOutputs(step, end) };
  }
  try {
    const flowResult = await resolveTemplates(output, { ...step.scope, nodes: nodeOutputs });
    return { changes: NO_CHANGES, end: declaredOutputs(step, { status: 'completed', result: flowResult }) };
  } catch (err) {
    if (err instanceof ExpressionLimitError) {
      const detail = { code: err.code, limit: err.limit, expression: err.expression ?? null };
      return {
        changes: NO_CHANGES,
        end: { status: 'failed', error: err.explain("the flow's output template"), detail },
      };
    }
    return {
      changes: NO_CHANGES,
      end: { status: 'failed', error: `the flow's output template failed: ${(err as Error).message}` },
    };
  }
}

/**
 * A completed end checked against the flow's declared `outputs` schema: a result that does not
 * match fails the execution, saying which field (issue 15).
 */
function declaredOutputs(step: StepContext, end: { status: 'completed'; result: unknown }): End {
  const schema = step.document.outputs;
  if (schema === undefined) return end;
  const { flow_id, flow_version } = step.execution;
  try {
    checkAgainstSchema(
      `${flow_id}@${flow_version}#outputs`,
      schema,
      end.result,
      'outputs',
      "The result does not match the flow's outputs schema",
    );
    return end;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { status: 'failed', error: err.message, detail: { field: err.details?.field ?? null } };
  }
}

/** After a node failed: again while its retry policy allows, else along its error edge, else the execution fails. */
function afterFailure(step: StepContext, error: NodeError): Route {
  const { execution: ex, task, node, now } = step;
  const about = aboutStep(step);
  const retry = node.retry ?? {};
  const maxAttempts = retry.max_attempts ?? 1;
  if (error.retryable && !error.fatal && task.attempt < maxAttempts) {
    const base = retry.backoff_ms ?? 1000;
    const backoff = Math.min(
      base * Math.pow(retry.backoff_multiplier ?? 2, task.attempt - 1),
      retry.max_backoff_ms ?? 300_000,
    );
    const delay = honouringRetryAfter(backoff, error, retry.max_backoff_ms);
    const message = `Attempt ${task.attempt} of ${maxAttempts} failed: ${error.message}; retrying in ${delay} ms`;
    return {
      changes: { patch: {}, events: [logEvent(about, 'warn', message, { attempt: task.attempt, delay_ms: delay })] },
      next: { node: task.node_id, attempt: task.attempt + 1, runAt: new Date(now.getTime() + delay) },
    };
  }
  const errorEdge = edgeFor(node, 'error');
  if (errorEdge && !error.fatal) {
    const failed = { output: failedOutputOf(error) ?? null, error: error.message };
    return {
      changes: {
        patch: { node_outputs: { ...ex.node_outputs, [task.node_id]: failed } },
        events: [
          logEvent(about, 'warn', `Node failed: ${error.message}; following its error edge`, error.detail ?? null),
        ],
      },
      next: { node: errorEdge, attempt: 1 },
    };
  }
  return { changes: NO_CHANGES, end: { status: 'failed', error: error.message, detail: error.detail ?? null } };
}

/** A 429's `Retry-After` (rate-limit.ts) lengthens the backoff, up to the policy's `max_backoff_ms` (else 5 minutes). */
function honouringRetryAfter(backoff: number, error: NodeError, maxBackoffMs: number | undefined): number {
  const retryAfter = (error as NodeError & { retryAfterMs?: number }).retryAfterMs;
  if (retryAfter === undefined) return backoff;
  return Math.max(backoff, Math.min(retryAfter, maxBackoffMs ?? MAX_RETRY_AFTER_MS));
}

/** The step that reaches the execution's step limit with more to do fails the execution instead. */
function withinStepLimit(step: StepContext, route: Route): Route {
  if (!route.next || step.execution.step_count + 1 < step.maxSteps) return route;
  return {
    changes: route.changes,
    end: { status: 'failed', error: `the execution reached the limit of ${step.maxSteps} steps` },
  };
}

/** Queues the next task or ends the execution, writes it all, and tells a waiting parent of an end. */
async function finish(tx: Tx, step: StepContext, recorded: Changes, route: Route): Promise<void> {
  const { next, end } = route;
  if (next)
    await insertTask(tx, {
      execution_id: step.execution.id,
      node_id: next.node,
      attempt: next.attempt,
      run_at: next.runAt,
    });
  const changes = and(recorded, route.changes, end ? ending(step, end) : NO_CHANGES);
  await write(tx, step, changes);
  if (!end) return;
  const { result = null, error = null } = changes.patch;
  if (step.itemEnds && step.execution.iteration)
    step.itemEnds.push(itemEndOf(step.execution.id, end.status, result, error));
  else await notifyParent(tx, step.execution, end.status, result, error);
}

/** The execution's last changes: its status, its result or error (masked), and the events that say so. */
function ending(step: StepContext, end: End): Changes {
  const { masker, now } = step;
  const about = aboutStep(step);
  if (end.status === 'completed') {
    const result = end.result ?? null;
    return {
      patch: { status: 'completed', result: masker.json(result), completed_at: now },
      events: [
        logEvent(about, 'info', 'Execution completed'),
        { type: 'execution_completed', payload: { status: 'completed', result } },
      ],
    };
  }
  return {
    patch: { status: 'failed', error: masker.text(end.error), completed_at: now },
    events: [
      logEvent(about, 'error', `Execution failed: ${end.error}`, end.detail ?? null),
      { type: 'execution_failed', payload: { status: 'failed', error: end.error, ...about } },
    ],
  };
}

/** Events are masked as they are written; the changes keep the real values until then. */
async function write(tx: Tx, step: StepContext, changes: Changes): Promise<void> {
  const { masker } = step;
  const events = masker.empty ? changes.events : changes.events.map((e) => ({ ...e, payload: masker.json(e.payload) }));
  await appendEvents(tx, step.execution.id, events);
  await updateExecution(tx, step.execution.id, changes.patch);
}
