/** What every node type module exports; the catalog, validation and the engine all read it. */
import type { HttpGuard } from '../http-guard';

export type JsonSchema = Record<string, unknown>;

/** What an executor gets: its params with templates resolved, and the means to act. */
export interface NodeContext {
  params: Record<string, unknown>;
  /** The template context: {input, nodes, secrets, execution}. */
  scope: Record<string, unknown>;
  http: HttpGuard;
  signal: AbortSignal;
  /** State this node kept across claims (a delay that started sleeping). */
  state: Record<string, unknown> | null;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>): void;
}

export interface NodeResult {
  output?: unknown;
  /** The edge to follow; `default` when absent. */
  outcome?: string;
  /** Run this node again at that time, keeping `state` (durable waits hold no worker). */
  sleepUntil?: { at: Date; state: Record<string, unknown> };
}

/** A node failed; `retryable` failures are tried again per the node's `retry`. */
export class NodeError extends Error {
  constructor(
    message: string,
    readonly retryable = false,
    /** Ends the execution at once, whatever its retry and error edge say (the `fail` node). */
    readonly fatal = false,
  ) {
    super(message);
  }
}

export interface NodeTypeModule {
  type: string;
  description: string;
  category: 'integration' | 'data' | 'control' | 'human' | 'utility';
  /** JSON Schema of `params`; save-time validation uses exactly this. */
  paramsSchema: JsonSchema;
  /** What the node's output holds. */
  output: string;
  /** Edge names the node emits besides `default` and `error`, given its params. */
  outcomes?(params: Record<string, unknown>): string[];
  /** Params that are whole JSONata expressions (not `{{ }}` templates), by their path in params. */
  expressions?(params: Record<string, unknown>): { path: string; expression: string }[];
  /** A cycle through this node is not an unconditional loop (it branches or waits). */
  breaksCycles?: boolean;
  /** Runs the node; the human-in-the-loop types have none yet and fail when reached. */
  execute?(ctx: NodeContext): Promise<NodeResult>;
}

export const TIMEOUT_MS = { type: 'integer', minimum: 1, maximum: 3_600_000 } as const;
export const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } } as const;
