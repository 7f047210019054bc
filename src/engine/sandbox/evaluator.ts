/**
 * What an expression process does with one job: evaluates JSONata under the cooperative limits
 * (JSONata's own guardrails check time and depth on every step of the evaluation) with regexes on
 * the linear-time engine, and returns plain JSON. The server's pool adds the hard limits: a
 * process that overruns its time is killed, and each process has a heap limit of its own.
 *
 * Nothing here knows about processes, so unit tests can run it in theirs.
 */
import jsonata from 'jsonata';
import { resolveWith } from '../templates';
import { LinearRegExp } from './linear-regexp';

export type Limit = 'time' | 'depth' | 'memory';

export interface EvaluationLimits {
  /** Wall-clock budget of one job (one expression, or all the templates of one value). */
  timeoutMs: number;
  /** JSONata evaluation frames (nested sub-expressions and function calls) at once. */
  maxDepth: number;
}

/** One call into the sandbox; `scope` is the context every expression reads. */
export type Job =
  | { kind: 'value'; expression: string; scope: unknown }
  | { kind: 'templates'; value: unknown; scope: unknown }
  | { kind: 'first-truthy'; expressions: string[]; scope: unknown };

export type Outcome =
  | { ok: true; value: unknown }
  | {
      ok: false;
      message: string;
      /** Set when a limit stopped the evaluation. */
      limit?: Limit;
      /** The expression that was running. */
      expression?: string;
      /** JSONata's error code and position, for ordinary errors. */
      code?: string;
      position?: number;
    };

/**
 * JSON only, whatever JSONata produced: functions and lambdas are dropped (as JSON.stringify
 * would), `undefined` in a list becomes null, non-finite numbers null. What crosses the process
 * boundary, and what the engine stores, is exactly this.
 */
export function toJson(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (v._jsonata_lambda || v._jsonata_function) return undefined;
  if (typeof v.toJSON === 'function') return toJson((v.toJSON as () => unknown)());
  if (Array.isArray(value)) return value.map((item) => toJson(item) ?? null);
  const entries: [string, unknown][] = [];
  for (const [k, item] of Object.entries(v)) {
    const j = toJson(item);
    if (j !== undefined) entries.push([k, j]);
  }
  return Object.fromEntries(entries);
}

/** Roughly how many bytes a JSON value takes, counting no further than `cap`. */
export function approximateSize(value: unknown, cap: number): number {
  let size = 0;
  const stack = [value];
  while (stack.length > 0 && size <= cap) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length + 2;
    else if (Array.isArray(v)) {
      size += 2;
      for (const item of v) stack.push(item);
    } else if (v && typeof v === 'object')
      for (const [k, item] of Object.entries(v)) {
        size += k.length + 4;
        stack.push(item);
      }
    else size += 8;
  }
  return size;
}

const LIMIT_CODES: Record<string, Limit> = { D1011: 'depth', D1012: 'time' };

export class Evaluator {
  /**
   * Shared by every compiled expression: JSONata reads `timeout` when an evaluation starts, so
   * setting it to what is left of the job's budget before each evaluation makes the budget the
   * job's, not each template's. One job runs at a time in a process, so nothing interleaves.
   */
  private readonly options: { timeout: number; stack: number; RegexEngine: RegExpConstructor };
  private readonly compiled = new Map<string, jsonata.Expression>();

  constructor(
    private readonly limits: EvaluationLimits,
    /** Told the index of each expression as it starts, so a terminated job can be explained. */
    private readonly progress: (index: number) => void = () => {},
  ) {
    this.options = {
      timeout: limits.timeoutMs,
      stack: limits.maxDepth,
      RegexEngine: LinearRegExp as unknown as RegExpConstructor,
    };
  }

  private compile(expression: string): jsonata.Expression {
    let e = this.compiled.get(expression);
    if (!e) {
      e = jsonata(expression, this.options);
      if (this.compiled.size > 10_000) this.compiled.clear();
      this.compiled.set(expression, e);
    }
    return e;
  }

  async run(job: Job): Promise<Outcome> {
    const deadline = Date.now() + this.limits.timeoutMs;
    let index = -1;
    let current: string | undefined;
    const one = (expression: string): Promise<unknown> => {
      this.progress(++index);
      current = expression;
      const left = deadline - Date.now();
      if (left <= 0) throw { code: 'D1012' };
      this.options.timeout = left;
      return this.compile(expression).evaluate(job.scope);
    };
    try {
      switch (job.kind) {
        case 'value':
          return { ok: true, value: toJson(await one(job.expression)) };
        case 'templates':
          return { ok: true, value: toJson(await resolveWith(job.value, one)) };
        case 'first-truthy':
          for (let i = 0; i < job.expressions.length; i++)
            if (await one(job.expressions[i])) return { ok: true, value: i };
          return { ok: true, value: -1 };
      }
    } catch (err) {
      return this.failure(err, current);
    }
  }

  private failure(err: unknown, expression: string | undefined): Outcome {
    const e = (err ?? {}) as { code?: string; message?: string; position?: number };
    const limit =
      (e.code && LIMIT_CODES[e.code]) ||
      (err instanceof RangeError && /call stack/i.test(e.message ?? '') ? 'depth' : undefined);
    if (limit)
      return {
        ok: false,
        limit,
        expression,
        message:
          limit === 'time'
            ? `ran longer than the time limit of ${this.limits.timeoutMs} ms`
            : `went deeper than the depth limit of ${this.limits.maxDepth} nested evaluations`,
      };
    return { ok: false, message: e.message ?? String(err), expression, code: e.code, position: e.position };
  }
}
