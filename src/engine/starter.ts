/**
 * Starts executions many per transaction (see Batcher): each caller's start is committed before
 * its promise resolves. When this process runs a worker with room, the entry tasks are leased to
 * it in the same statement and handed over in memory after the commit: no claim, no NOTIFY. If
 * the process dies first, the leases expire and any worker takes the tasks.
 *
 * A start whose entry node computes from its context alone (an `inline` node type: transform,
 * condition, …) over plain expressions runs that node in the batch, after the start's statement
 * and before its commit, and its step commits in the same transaction: a one-node flow is then
 * started and finished by one commit, and a run-and-wait call answers from the row it committed.
 */
import type { Db } from '../db/knex';
import type { ExecutionRow } from '../db/tables';
import { inTransaction, retryingConflicts } from '../db/transaction';
import { insertStarts, type NewStart } from '../repositories/starts.repository';
import { writeSteps, type StepWrite } from '../repositories/step-commits.repository';
import type { ClaimedTask } from '../repositories/tasks.repository';
import { Batcher } from './batcher';
import { stepWrite } from './committer';
import { nodeOf, type FlowDocument } from './definition';
import { isPlain } from './expressions';
import { nodeType } from './nodes';
import { expressionsIn } from './templates';
import type { StepPlan } from './step-commit';

const MAX_BATCH = 100;
const IN_FLIGHT = 2;

/** The worker of this process, as the starter sees it. */
export interface LocalWorker {
  readonly id: string;
  /** How many tasks it would take now. */
  readonly room: number;
  adopt(claimed: ClaimedTask[]): void;
  planInline(claimed: ClaimedTask): Promise<StepPlan | undefined>;
  finishedHere(execution: ExecutionRow): void;
}

export interface PlainStart extends Omit<NewStart, 'leased_to'> {
  /** Its entry node may run before the start commits (`startsInline`). */
  inline: boolean;
}

/**
 * A committed start; `heldHere` when this process's worker holds its next task (so only it can
 * finish it before the lease runs out). An execution whose entry step committed with its start
 * may already be final.
 */
export interface Started {
  execution: ExecutionRow;
  heldHere: boolean;
}

const inlineByDocument = new WeakMap<FlowDocument, boolean>();

/**
 * Whether a start of this definition may run its entry node before it commits: the node's type
 * computes from its context alone, and every expression it evaluates (its own, its templates, the
 * flow's `output` should the execution end there) is plain, so it runs in this process in time
 * linear in its text and data (expressions.ts) — nothing a sandbox limit could stop.
 */
export function startsInline(document: FlowDocument): boolean {
  let inline = inlineByDocument.get(document);
  if (inline === undefined) {
    const entry = document.entry === undefined ? undefined : nodeOf(document, document.entry);
    const module = entry && nodeType(entry.type);
    const params = entry?.params ?? {};
    inline =
      !!module?.inline &&
      [
        ...(module.expressions?.(params) ?? []).map((e) => e.expression),
        ...expressionsIn(params),
        ...expressionsIn(document.output ?? null),
      ].every(isPlain);
    inlineByDocument.set(document, inline);
  }
  return inline;
}

interface Written {
  claimed: ClaimedTask[];
  /** By the start's index: what its inline step committed. */
  stepped: Map<number, { plan: StepPlan; next?: ClaimedTask['task']; finished?: ExecutionRow }>;
}

export class ExecutionStarter {
  private worker: LocalWorker | undefined;
  private readonly batcher: Batcher<PlainStart, Started>;

  constructor(
    private readonly db: Db,
    private readonly leaseMs: number,
    /** Off: every entry step goes to the worker (FLOWRUNNER_INLINE_STARTS=false). */
    private readonly inlineSteps = true,
  ) {
    this.batcher = new Batcher((starts) => this.write(starts), MAX_BATCH, IN_FLIGHT);
  }

  private async write(starts: PlainStart[]): Promise<Started[]> {
    const worker = this.worker;
    const room = worker?.room ?? 0;
    const rows: NewStart[] = starts.map(({ inline: _, ...s }, i) => ({
      ...s,
      leased_to: i < room ? worker!.id : null,
    }));
    const inline = (i: number) =>
      this.inlineSteps && worker !== undefined && rows[i].leased_to !== null && starts[i].inline;
    // An entry step the database refuses (a value jsonb can't hold) must not fail its start: the
    // batch is then written again without the inline steps, which the worker runs as any other.
    const written = (starts.some((_, i) => inline(i))
      ? await this.writeInline(rows, inline, worker!).catch(() => undefined)
      : undefined) ?? {
      claimed: await retryingConflicts(() => insertStarts(this.db, rows, this.leaseMs)),
      stepped: new Map(),
    };
    const { claimed, stepped } = written;
    const adopted: ClaimedTask[] = [];
    const started = claimed.map((c, i): Started => {
      const step = stepped.get(i);
      if (!step) {
        const held = !!worker && c.task.lease_owner === worker.id;
        if (held) adopted.push(c);
        return { execution: c.execution, heldHere: held };
      }
      if (step.finished) {
        worker!.finishedHere(step.finished);
        return { execution: step.finished, heldHere: false };
      }
      const held = step.next?.lease_owner === worker!.id;
      if (held) adopted.push({ task: step.next!, execution: step.plan.after });
      return { execution: step.plan.after, heldHere: held };
    });
    if (worker && adopted.length > 0) worker.adopt(adopted);
    return started;
  }

  /** The starts and, in the same transaction, the inline entry steps that planned (see `planInline`). */
  private writeInline(rows: NewStart[], inline: (i: number) => boolean, worker: LocalWorker): Promise<Written> {
    return inTransaction(this.db, async (tx) => {
      const claimed = await insertStarts(tx, rows, this.leaseMs);
      const plans = await Promise.all(
        claimed.map((c, i) => (inline(i) ? worker.planInline(c).catch(() => undefined) : undefined)),
      );
      const writes: StepWrite[] = [];
      const startOf: number[] = [];
      plans.forEach((plan, i) => {
        if (!plan) return;
        writes.push(stepWrite(plan, true));
        startOf.push(i);
      });
      const stepped: Written['stepped'] = new Map();
      if (writes.length === 0) return { claimed, stepped };
      const out = await writeSteps(tx, worker.id, this.leaseMs, writes);
      for (const k of out.applied)
        stepped.set(startOf[k], { plan: plans[startOf[k]]!, next: out.next.get(k), finished: out.finished.get(k) });
      return { claimed, stepped };
    });
  }

  /** The worker that takes entry tasks over in memory; none in an API-only process or when stopping. */
  handOverTo(worker: LocalWorker | undefined): void {
    this.worker = worker;
  }

  /** Commits a queued execution with its first event and its entry task; resolves after the commit. */
  start(start: PlainStart): Promise<Started> {
    return this.batcher.submit(start);
  }
}
