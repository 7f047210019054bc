import crypto from 'node:crypto';
import { callHttp } from './http-common';
import { HUMAN_TIMEOUT_MS, NodeError, STRING_MAP, type NodeTypeModule } from './types';

/** The hash a callback token is found by: only it is stored (in the execution's `waiting_for`). */
export function callbackTokenHash(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

/**
 * 000's callback: the node makes a one-time URL, sends it to `notify_url` (through the outbound
 * guard), and waits, holding no worker, until an external service POSTs `{outcome, output}` to it.
 */
export const callback: NodeTypeModule = {
  type: 'callback',
  category: 'integration',
  displayName: 'Wait for a callback',
  description:
    'Make a one-time callback URL (POST /api/v1/callbacks/{token}; the token is its only credential, stored hashed), POST `{callback_url, execution_id}` to `notify_url`, and wait for the call. Its `outcome` picks the edge, its `output` is the node output.',
  output: 'the output the callback sent',
  outputSchema: { description: 'the `output` of the callback' },
  paramsSchema: {
    type: 'object',
    required: ['notify_url'],
    additionalProperties: false,
    properties: {
      notify_url: { type: 'string', minLength: 1, maxLength: 8192 },
      headers: STRING_MAP,
      outcomes: {
        type: 'array',
        maxItems: 50,
        items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,63}$' },
        description: 'Outcomes the callback may send besides `default`',
      },
      timeout_ms: HUMAN_TIMEOUT_MS,
    },
  },
  outcomes: (p) => [...(Array.isArray(p.outcomes) ? (p.outcomes as string[]) : []), 'timeout'],
  breaksCycles: true,
  execute: async (ctx) => {
    const called = ctx.state?.callback as { outcome: string; output: unknown } | undefined;
    if (called) return { output: called.output, outcome: called.outcome };
    if (ctx.state?.timeout) {
      if (!ctx.edges.includes('timeout')) throw new NodeError('no callback before the deadline');
      return { output: null, outcome: 'timeout' };
    }
    const token = `cb_${crypto.randomBytes(32).toString('base64url')}`;
    await callHttp(ctx, {
      method: 'POST',
      url: String(ctx.params.notify_url),
      headers: ctx.params.headers as Record<string, string> | undefined,
      body: { callback_url: `/api/v1/callbacks/${token}`, execution_id: ctx.engine.execution.id },
      timeoutMs: 30_000,
      maxResponseBytes: 1_048_576,
    });
    const timeout = ctx.params.timeout_ms as number | undefined;
    return {
      wait: {
        kind: 'callback',
        callback_hash: callbackTokenHash(token),
        outcomes: ['default', ...(Array.isArray(ctx.params.outcomes) ? (ctx.params.outcomes as string[]) : [])].map(
          (name) => ({ name }),
        ),
        deadline: timeout ? new Date(Date.now() + timeout).toISOString() : null,
      },
    };
  },
};
