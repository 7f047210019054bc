import { NodeError, type NodeTypeModule } from './types';

/** The longest wait, however it is given: literal `ms`, a template, or `until`. */
const MAX_DELAY_MS = 2_592_000_000;

export const delay: NodeTypeModule = {
  type: 'delay',
  category: 'control',
  displayName: 'Delay',
  description:
    'Wait durably for `ms` milliseconds or until a time; the execution holds no worker meanwhile and survives restarts.',
  output: '{waited_ms}',
  outputSchema: { type: 'object', properties: { waited_ms: { type: 'integer' } }, required: ['waited_ms'] },
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: {
      ms: { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS, description: 'At most 30 days' },
      until: { type: 'string', format: 'date-time', description: 'At most 30 days ahead' },
    },
  },
  breaksCycles: true,
  execute: async (ctx) => {
    if (ctx.state?.sleeping) return { output: { waited_ms: Date.now() - Number(ctx.state.since) } };
    // Templates are resolved by now: check their values as the schema checks literals.
    if (ctx.params.until === undefined) {
      const ms =
        typeof ctx.params.ms === 'string' && ctx.params.ms.trim() !== '' ? Number(ctx.params.ms) : ctx.params.ms;
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
        throw new NodeError(`delay: ms must be a number of milliseconds, not ${JSON.stringify(ctx.params.ms)}`);
      if (ms > MAX_DELAY_MS) throw new NodeError(`delay: ${ms} ms is longer than the limit of 30 days`);
    }
    const until =
      ctx.params.until !== undefined
        ? new Date(String(ctx.params.until))
        : new Date(Date.now() + Number(ctx.params.ms));
    if (Number.isNaN(until.getTime())) throw new NodeError(`delay: "${String(ctx.params.until)}" is not a date-time`);
    if (until.getTime() - Date.now() > MAX_DELAY_MS)
      throw new NodeError(`delay: ${until.toISOString()} is more than 30 days ahead (the limit)`);
    if (until.getTime() <= Date.now()) return { output: { waited_ms: 0 } };
    return { sleepUntil: { at: until, state: { sleeping: true, since: Date.now() } } };
  },
};
