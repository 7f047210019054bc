import type { NodeTypeModule } from './types';

export const delay: NodeTypeModule = {
  type: 'delay',
  category: 'control',
  description: 'Wait durably for `ms` milliseconds or until a time; the execution holds no worker meanwhile and survives restarts.',
  output: '{waited_ms}',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: {
      ms: { type: 'integer', minimum: 0, maximum: 2_592_000_000, description: 'At most 30 days' },
      until: { type: 'string', format: 'date-time' },
    },
  },
  breaksCycles: true,
};
