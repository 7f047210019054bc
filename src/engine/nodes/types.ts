/** What every node type module exports; the catalog, validation and the engine all read it. */
export type JsonSchema = Record<string, unknown>;

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
}

export const TIMEOUT_MS = { type: 'integer', minimum: 1, maximum: 3_600_000 } as const;
export const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } } as const;
