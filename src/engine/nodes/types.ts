/** What every node type module exports; the catalog, validation and the engine all read it. */
import type { Readable } from 'node:stream';
import type { HttpGuard, OutboundRequest } from '../http-guard';

export type JsonSchema = Record<string, unknown>;

/** What an executor gets: its params with templates resolved, and the means to act. */
export interface NodeContext {
  params: Record<string, unknown>;
  /** The template context: {input, nodes, secrets, execution}. */
  scope: Record<string, unknown>;
  http: HttpGuard;
  signal: AbortSignal;
  /** State this node kept across claims (a delay that started sleeping), or the answer to its wait. */
  state: Record<string, unknown> | null;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>): void;
  engine: EngineServices;
  /** The outcomes this node has edges for. */
  edges: string[];
}

/** What a waiting execution waits for (shown as `waiting_for`). */
export interface Wait {
  kind: 'approval' | 'input' | 'subflow' | 'event' | 'callback';
  /** For `callback`: the sha256 of its token (never shown). */
  callback_hash?: string;
  /** For `event`: the name and correlation a posted event must have. */
  event?: { name: string; correlation: string };
  approvers?: string[];
  no_self_approval?: boolean;
  outcomes?: { name: string; label?: string }[];
  deadline?: string | null;
  /** For `subflow`: the child execution to start, in the same transaction. */
  child?: { flow_id: string; version: number; entry: string; nodes_total: number; input: Record<string, unknown> };
}

export interface NodeResult {
  output?: unknown;
  /** The edge to follow; `default` when absent. */
  outcome?: string;
  /** Run this node again at that time, keeping `state` (durable waits hold no worker). */
  sleepUntil?: { at: Date; state: Record<string, unknown> };
  /** Stop and wait for a person or a child execution; the answer re-runs the node with it in `state`. */
  wait?: Wait;
  /** State values to merge into the execution's. */
  setValues?: Record<string, unknown>;
  /** End the execution as cancelled, with this reason (a rejection, a cancelled subflow). */
  cancel?: string;
  /** The account whose decision this step records. */
  actorId?: string;
  /** Starts parallel branches or a foreach's iterations (regions.ts, branch-commit.ts, foreach-commit.ts). */
  control?: ControlStep;
}

/** A step that starts concurrent work in the execution: a parallel's branches, a foreach's iterations. */
export type ControlStep =
  | { kind: 'fork' }
  | {
      kind: 'foreach';
      items: unknown[];
      concurrency: number;
      on_item_error: 'fail' | 'continue';
      /** A subflow per item; else the nodes of the foreach's `each` edge. */
      subflow?: { flow_id: string; version: number; entry: string; nodes_total: number };
    };

/** What the engine offers an executor beyond its params: lookups it may not do on its own. */
export interface EngineServices {
  /** A flow of the execution's owner, for `subflow`; throws NodeError when it can't be run. */
  resolveFlow(
    flowId: string,
    version: number | undefined,
  ): Promise<{ flow_id: string; version: number; entry: string; nodes_total: number }>;
  /** The execution this node runs in. */
  execution: { id: string; account_id: string; depth: number };
  /**
   * Puts the credentials of the execution owner's connection `name` on a request (`refresh`: fetch a
   * new OAuth2 token rather than use the cached one); throws NodeError when it has none of that name.
   */
  authorize(
    name: string,
    req: Omit<OutboundRequest, 'signal'>,
    refresh: boolean,
  ): Promise<{ request: Omit<OutboundRequest, 'signal'>; refreshable: boolean }>;
  /** Files of the execution's account (engine/files.ts). */
  files: EngineFiles;
}

/** A file's metadata as nodes and templates see it. */
export interface FileRef {
  id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
}

export interface EngineFiles {
  /** A file of the execution's account (NodeError otherwise), and a fresh stream of its bytes per call. */
  open(fileId: string): Promise<{ file: FileRef; stream: () => Readable }>;
  /** Stores `body` as a new file of the account, listed as the execution's output; its metadata. */
  save(name: string, contentType: string, body: AsyncIterable<Buffer | string>): Promise<FileRef>;
}

/** A node failed; `retryable` failures are tried again per the node's `retry`. */
export class NodeError extends Error {
  constructor(
    message: string,
    readonly retryable = false,
    /** Ends the execution at once, whatever its retry and error edge say (the `fail` node). */
    readonly fatal = false,
    /** What kind of failure, for the `data` of its log events (e.g. `{code: 'expression_limit', …}`). */
    readonly detail?: { code: string } & Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface NodeTypeModule {
  type: string;
  /**
   * Waits on the outside world (an HTTP call): its beginning is committed before it runs
   * (`node_started`, the current node, since when), so a client sees it running. Other nodes finish
   * at once and are announced in the commit of their result.
   */
  announces?: boolean;
  /**
   * Computes from its context alone (no I/O, no wait, no sleep), so a start whose entry node it is
   * may run it before the start commits and commit both together (see ExecutionStarter).
   */
  inline?: boolean;
  description: string;
  category: 'integration' | 'data' | 'control' | 'human' | 'utility';
  /** The name a catalog shows (001's task definitions have one). */
  displayName: string;
  /** JSON Schema of `params`; save-time validation uses exactly this. */
  paramsSchema: JsonSchema;
  /** What the node's output holds. */
  output: string;
  /** JSON Schema of the node's output (what `nodes.<id>.output` holds). */
  outputSchema: JsonSchema;
  /** Edge names the node emits besides `default` and `error`, given its params. */
  outcomes?(params: Record<string, unknown>): string[];
  /** Params that are whole JSONata expressions (not `{{ }}` templates), by their path in params. */
  expressions?(params: Record<string, unknown>): { path: string; expression: string }[];
  /** Params that are JSON Schemas a flow declares (checked at save like `inputs`), by their path in params. */
  schemas?(params: Record<string, unknown>): { path: string; schema: unknown }[];
  /** A cycle through this node is not an unconditional loop (it branches or waits). */
  breaksCycles?: boolean;
  /** Any edge name is an outcome of this node (a parallel's edges name its branches). */
  anyOutcome?: boolean;
  /** Runs the node; a waiting type returns `wait` and runs again with the answer in `state`. */
  execute(ctx: NodeContext): Promise<NodeResult>;
}

/** The output of the nodes that make an HTTP request. */
export const HTTP_RESPONSE_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    status_code: { type: 'integer' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    body: { description: 'parsed JSON when the response says application/json, else text' },
  },
  required: ['status_code', 'headers', 'body'],
};

export const TIMEOUT_MS = { type: 'integer', minimum: 1, maximum: 3_600_000 } as const;
/** People take days: waits for them may last up to 30 days. */
export const HUMAN_TIMEOUT_MS = {
  type: 'integer',
  minimum: 1,
  maximum: 2_592_000_000,
  description: 'Deadline for an answer, at most 30 days',
} as const;
export const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } } as const;
