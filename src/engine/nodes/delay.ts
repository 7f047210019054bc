import { NodeError, type NodeTypeModule } from './types';

export const delay: NodeTypeModule = {
  type: 'delay',
  category: 'control',
  description:
    'Wait durably for `ms` milliseconds or until a time; the execution holds no worker meanwhile and survives restarts.',
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
  execute: async (ctx) => {
    if (ctx.state?.sleeping) return { output: { waited_ms: Date.now() - Number(ctx.state.since) } };
    const until =
      ctx.params.until !== undefined
        ? new Date(String(ctx.params.until))
        : new Date(Date.now() + Number(ctx.params.ms));
    if (Number.isNaN(until.getTime())) throw new NodeError(`delay: "${String(ctx.params.until)}" is not a date-time`);
    if (until.getTime() <= Date.now()) return { output: { waited_ms: 0 } };
    return { sleepUntil: { at: until, state: { sleeping: true, since: Date.now() } } };
  },
};
