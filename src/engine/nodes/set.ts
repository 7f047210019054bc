import type { NodeTypeModule } from './types';

export const set: NodeTypeModule = {
  type: 'set',
  inline: true,
  category: 'data',
  displayName: 'Set state values',
  description: "Merge values (templates allowed) into the execution's state values (GET /executions/{id}/values).",
  output: 'the values set',
  outputSchema: { type: 'object', description: 'the values set' },
  paramsSchema: {
    type: 'object',
    required: ['values'],
    additionalProperties: false,
    properties: { values: { type: 'object', minProperties: 1, description: 'Names and values to set' } },
  },
  execute: async (ctx) => {
    const values = ctx.params.values as Record<string, unknown>;
    return { output: values, setValues: values };
  },
};
