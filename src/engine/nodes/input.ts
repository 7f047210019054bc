import { HUMAN_TIMEOUT_MS, NodeError, type NodeTypeModule } from './types';

type Outcome = { name: string; label?: string };
const outcomesOf = (p: Record<string, unknown>): Outcome[] =>
  Array.isArray(p.outcomes) ? (p.outcomes as Outcome[]) : [];

export const input: NodeTypeModule = {
  type: 'input',
  category: 'human',
  displayName: 'Ask for input',
  description:
    'Wait for a person to choose an outcome and fill in values (POST /executions/{id}/signal); the values become state values.',
  output: '{outcome, values, actor_id}',
  outputSchema: {
    type: 'object',
    properties: { outcome: { type: 'string' }, values: { type: 'object' }, actor_id: { type: 'string' } },
  },
  paramsSchema: {
    type: 'object',
    required: ['outcomes'],
    additionalProperties: false,
    properties: {
      prompt: { type: 'string', maxLength: 4096 },
      outcomes: {
        type: 'array',
        minItems: 1,
        maxItems: 50,
        items: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,63}$' },
            label: { type: 'string', maxLength: 200 },
          },
        },
      },
      values_schema: { type: 'object', description: 'JSON Schema the values must satisfy' },
      timeout_ms: HUMAN_TIMEOUT_MS,
    },
  },
  outcomes: (p) => [...outcomesOf(p).map((o) => String(o.name)), 'timeout'],
  schemas: (p) => (p.values_schema === undefined ? [] : [{ path: 'values_schema', schema: p.values_schema }]),
  breaksCycles: true,
  execute: async (ctx) => {
    const signal = ctx.state?.signal as
      { outcome: string; values: Record<string, unknown>; actor_id: string } | undefined;
    if (signal)
      return {
        output: { outcome: signal.outcome, values: signal.values, actor_id: signal.actor_id },
        outcome: signal.outcome,
        setValues: signal.values,
        actorId: signal.actor_id,
      };
    if (ctx.state?.timeout) {
      if (!ctx.edges.includes('timeout')) throw new NodeError('no input before the deadline');
      return { output: { outcome: 'timeout', values: {}, actor_id: null }, outcome: 'timeout' };
    }
    const timeout = ctx.params.timeout_ms as number | undefined;
    return {
      wait: {
        kind: 'input',
        outcomes: outcomesOf(ctx.params),
        deadline: timeout ? new Date(Date.now() + timeout).toISOString() : null,
      },
    };
  },
};
