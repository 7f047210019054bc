import { TIMEOUT_MS, type NodeTypeModule } from './types';

const outcomeNames = (p: Record<string, unknown>): string[] =>
  Array.isArray(p.outcomes) ? (p.outcomes as { name?: unknown }[]).map((o) => String(o.name)) : [];

export const input: NodeTypeModule = {
  type: 'input',
  category: 'human',
  description: 'Wait for a person to choose an outcome and fill in values (POST /executions/{id}/signal); the values become state values.',
  output: '{outcome, values, actor_id}',
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
          properties: { name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,63}$' }, label: { type: 'string', maxLength: 200 } },
        },
      },
      values_schema: { type: 'object', description: 'JSON Schema the values must satisfy' },
      timeout_ms: TIMEOUT_MS,
    },
  },
  outcomes: (p) => [...outcomeNames(p), 'timeout'],
  breaksCycles: true,
};
