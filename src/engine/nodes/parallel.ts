import type { NodeTypeModule } from './types';

export const parallel: NodeTypeModule = {
  type: 'parallel',
  category: 'control',
  displayName: 'Parallel',
  description:
    'Start several branches at once: each edge in `next` names a branch and its first node. The branches run concurrently and meet at the `join` node named in params, which decides when the flow goes on. Nodes inside a branch stay in it (no edge into a branch from outside or between branches); a branch cannot wait for a person or a child execution.',
  output: 'the names of the branches started',
  outputSchema: {
    type: 'object',
    properties: { branches: { type: 'array', items: { type: 'string' } } },
    required: ['branches'],
  },
  paramsSchema: {
    type: 'object',
    required: ['join'],
    additionalProperties: false,
    properties: {
      join: { type: 'string', minLength: 1, description: 'The id of the join node where the branches meet' },
    },
  },
  anyOutcome: true,
  execute: async (ctx) => ({ output: { branches: ctx.edges }, control: { kind: 'fork' } }),
};
