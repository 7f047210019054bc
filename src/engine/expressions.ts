/**
 * JSONata in flows: `{{ … }}` templates in params, and the expressions of transform, condition and
 * switch. Flows come from accounts we don't trust, so nothing here evaluates in the server's process:
 * every evaluation is a job for the expression sandbox (sandbox/): child processes with a time
 * limit, a depth limit and a heap limit, regexes on a linear-time engine. A runaway expression
 * fails with an `ExpressionLimitError` and costs the server one sandbox process for at most its
 * time limit.
 *
 * Except for plain expressions (literals, field paths, operators, conditionals, constructors: no
 * function call, filter, wildcard, regex or binding), whose cost is linear in their text and the
 * data they read, so no limit can be reached by them: those evaluate here, in the server, on the
 * same Evaluator the sandbox runs — the usual `{{ input.x }}` template costs no process hop.
 *
 * One call crosses the process boundary once: all the templates of a value resolve in one job, a
 * switch's cases in another. The context crosses as a structured clone (JSON values: the engine's
 * scope is built from jsonb columns and holds no Dates or functions), with only the node outputs
 * the job's expressions can read (scope.ts); results come back as JSON.
 */
import path from 'node:path';
import jsonata from 'jsonata';
import { config, type Config } from '../config';
import type { Job, Limit, Outcome } from './sandbox/evaluator';
import { Evaluator, toJson } from './sandbox/evaluator';
import { regexProblem } from './sandbox/linear-regexp';
import { NotSerializableError, PoolLimitError, ProcessPool } from './sandbox/pool';
import { scopeFor } from './scope';
import { expressionsIn, hasTemplates } from './templates';

export { stringsIn, templatesIn } from './templates';

export interface ExpressionLimits {
  timeoutMs: number;
  maxDepth: number;
  memoryMb: number;
  processes: number;
}

export function expressionLimits(config: Config): ExpressionLimits {
  return {
    timeoutMs: config.expressionTimeoutMs,
    maxDepth: config.expressionMaxDepth,
    memoryMb: config.expressionMemoryMb,
    processes: config.expressionProcesses,
  };
}

/** A limit stopped an expression: the flow's doing, never retried as if transient. */
export class ExpressionLimitError extends Error {
  readonly code = 'expression_limit';
  constructor(
    readonly limit: Limit,
    /** The expression that was running, when known. */
    readonly expression: string | undefined,
    message: string,
  ) {
    super(message);
  }

  /** `expression_limit: <where> <what>: <expression>`, for a step's error. */
  explain(where: string): string {
    const e = this.expression;
    const shown = e === undefined ? '' : `: ${e.length > 200 ? `${e.slice(0, 200)}…` : e}`;
    return `${this.code}: ${where} ${this.message}${shown}`;
  }
}

/** A JSONata error (T2001, D3030 …) with its code and position, as JSONata reports it. */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly position?: number,
  ) {
    super(message);
  }
}

let limits: ExpressionLimits | undefined;
let pool: ProcessPool<Job, Outcome> | undefined;

/** Grace for a process to notice its own time limit before the pool kills it. */
function hardTimeoutMs(timeoutMs: number): number {
  return timeoutMs + Math.max(250, Math.floor(timeoutMs / 2));
}

/**
 * Sets the limits (the engine calls this at start with the process's config). Changed limits
 * replace the processes; jobs running on the old ones fail.
 */
export function configureExpressions(next: ExpressionLimits): void {
  if (limits && JSON.stringify(limits) === JSON.stringify(next)) return;
  limits = next;
  local = undefined;
  void closeExpressions();
}

/** Starts the processes now, so the first step does not wait for them. */
export function warmExpressions(): void {
  sandbox().warm();
}

/** Stops the processes (idle ones are unref'd and leave with this process, so it may also just end). */
export async function closeExpressions(): Promise<void> {
  const old = pool;
  pool = undefined;
  await old?.close();
}

function sandbox(): ProcessPool<Job, Outcome> {
  if (pool) return pool;
  // Not configured by an engine (a script, a unit test): the process's config.
  limits ??= expressionLimits(config());
  const l = limits;
  // From source (tsx) the child loads TypeScript the same way; compiled, it needs nothing.
  const ext = path.extname(__filename);
  pool = new ProcessPool<Job, Outcome>({
    file: path.join(__dirname, 'sandbox', `child${ext}`),
    processes: l.processes,
    hardTimeoutMs: hardTimeoutMs(l.timeoutMs),
    execArgv: [
      `--max-old-space-size=${l.memoryMb}`,
      ...(ext === '.ts' ? ['--require', require.resolve('tsx/cjs')] : []),
    ],
    settings: { limits: { timeoutMs: l.timeoutMs, maxDepth: l.maxDepth } },
  });
  return pool;
}

/** Longer expressions go to the sandbox whatever they hold. */
const PLAIN_MAX_LENGTH = 2000;
const PLAIN_NODE_TYPES = new Set([
  'number',
  'string',
  'value',
  'name',
  'path',
  'binary',
  'unary',
  'condition',
  'block',
]);
const PLAIN_OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', '&', 'and', 'or', '[', '{']);
/** Keys of an AST node that make a step filter, group, bind or navigate: never plain. */
const NOT_PLAIN_KEYS = ['stages', 'predicate', 'group', 'focus', 'index', 'tuple', 'ancestor', 'seekingParent'];

function isPlainNode(node: unknown): boolean {
  if (Array.isArray(node)) return node.every(isPlainNode);
  if (!node || typeof node !== 'object') return true;
  const n = node as Record<string, unknown>;
  if (typeof n.type === 'string') {
    if (n.type === 'variable') return n.value === '' || n.value === '$';
    if (!PLAIN_NODE_TYPES.has(n.type)) return false;
    if ((n.type === 'binary' || n.type === 'unary') && !PLAIN_OPERATORS.has(n.value as string)) return false;
  }
  if (NOT_PLAIN_KEYS.some((k) => k in n)) return false;
  return Object.entries(n).every(([k, v]) => k === 'value' || k === 'position' || isPlainNode(v));
}

const plainCache = new Map<string, boolean>();

/** Whether the expression is plain (see the top of this file); decided once per text. */
export function isPlain(expression: string): boolean {
  let plain = plainCache.get(expression);
  if (plain === undefined) {
    try {
      plain = expression.length <= PLAIN_MAX_LENGTH && isPlainNode(jsonata(expression).ast());
    } catch {
      plain = false;
    }
    if (plainCache.size > 10_000) plainCache.clear();
    plainCache.set(expression, plain);
  }
  return plain;
}

let local: Evaluator | undefined;

/**
 * Runs one job; `expressions` lists what the job evaluates, in order: the scope it sends holds only
 * the node outputs they can read, and a limit's error names the one it stopped.
 */
async function call(job: Job, expressions: string[], retried = false): Promise<unknown> {
  let outcome: Outcome;
  try {
    if (!retried && expressions.every(isPlain)) {
      const l = (limits ??= expressionLimits(config()));
      local ??= new Evaluator({ timeoutMs: l.timeoutMs, maxDepth: l.maxDepth });
      outcome = await local.run(job);
    } else outcome = await sandbox().run(retried ? job : { ...job, scope: scopeFor(job.scope, expressions) });
  } catch (err) {
    if (err instanceof PoolLimitError) {
      const l = limits!;
      const expression = expressions[err.progress];
      throw new ExpressionLimitError(
        err.limit,
        expression,
        err.limit === 'time'
          ? `ran longer than the time limit of ${l.timeoutMs} ms (its process was killed)`
          : `used more than the memory limit of ${l.memoryMb} MB`,
      );
    }
    // Not plain data (a Date, a function somewhere in a node's output): send its JSON, as stored.
    if (err instanceof NotSerializableError && !retried)
      return call({ ...job, scope: toJson(scopeFor(job.scope, expressions)) }, expressions, true);
    throw err;
  }
  if (outcome.ok) return outcome.value;
  if (outcome.limit) throw new ExpressionLimitError(outcome.limit, outcome.expression, outcome.message);
  throw new ExpressionError(outcome.message, outcome.code, outcome.position);
}

/** The value of one expression over a context. */
export async function evaluate(expression: string, context: unknown): Promise<unknown> {
  return call({ kind: 'value', expression, scope: context }, [expression]);
}

/** The index of the first expression whose value is truthy, or -1; they run in order, in one job. */
export async function firstTruthy(expressions: string[], context: unknown): Promise<number> {
  return (await call({ kind: 'first-truthy', expressions, scope: context }, expressions)) as number;
}

/** Whether an expression's value is truthy (JavaScript's truthiness of JSONata's result). */
export async function isTruthy(expression: string, context: unknown): Promise<boolean> {
  return (await firstTruthy([expression], context)) === 0;
}

/**
 * Resolves every template in a JSON value, in one job. A string that is one whole template takes
 * the expression's value (number, object …); templates inside text are interpolated as text.
 */
export async function resolveTemplates(value: unknown, context: unknown): Promise<unknown> {
  if (!hasTemplates(value)) return value;
  return call({ kind: 'templates', value, scope: context }, expressionsIn(value));
}

export interface ParseProblem {
  message: string;
  position?: number;
}

/** Every regex literal of a parsed expression (JSONata's parser has already built them). */
function regexesIn(ast: unknown, out: RegExp[] = [], seen = new Set<unknown>()): RegExp[] {
  if (!ast || typeof ast !== 'object' || seen.has(ast)) return out;
  seen.add(ast);
  if (ast instanceof RegExp) out.push(ast);
  else for (const v of Object.values(ast)) regexesIn(v, out, seen);
  return out;
}

/**
 * Undefined when the expression parses and its regexes can run on the linear-time engine, else
 * why not. Parsing happens here, in the server, at save time: it is linear in the text.
 */
export function parseProblem(expression: string): ParseProblem | undefined {
  if (expression.trim() === '') return { message: 'the expression is empty' };
  let ast: unknown;
  try {
    ast = jsonata(expression).ast();
  } catch (err) {
    const e = err as { message?: string; position?: number };
    return { message: e.message ?? 'invalid expression', position: e.position };
  }
  for (const re of regexesIn(ast)) {
    const problem = regexProblem(re.source, re.flags);
    if (problem) return { message: problem };
  }
  return undefined;
}
