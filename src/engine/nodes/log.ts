import type { NodeTypeModule } from './types';

export const log: NodeTypeModule = {
  type: 'log',
  inline: true,
  category: 'utility',
  displayName: 'Log',
  description: 'Write a log event of the execution (visible in /logs, the WebSocket and listeners).',
  output: '{message, level}',
  outputSchema: {
    type: 'object',
    properties: { message: { type: 'string' }, level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'] } },
    required: ['message', 'level'],
  },
  paramsSchema: {
    type: 'object',
    required: ['message'],
    additionalProperties: false,
    properties: {
      message: { type: 'string', minLength: 1, maxLength: 65_536 },
      level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
      data: { type: 'object', description: 'Structured data logged with the message' },
    },
  },
  execute: async (ctx) => {
    const level = (ctx.params.level ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
    const message = String(ctx.params.message);
    ctx.log(level, message, ctx.params.data as Record<string, unknown> | undefined);
    return { output: { message, level } };
  },
};
