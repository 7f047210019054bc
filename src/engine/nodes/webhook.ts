import { callHttp } from './http-common';
import { STRING_MAP, TIMEOUT_MS, type NodeTypeModule, HTTP_RESPONSE_SCHEMA } from './types';

export const webhook: NodeTypeModule = {
  type: 'webhook',
  category: 'integration',
  displayName: 'Webhook',
  description:
    'Send a JSON payload to a URL (POST by default), through the same outbound guard and retries as http.request.',
  output: '{status_code, headers, body}',
  outputSchema: HTTP_RESPONSE_SCHEMA,
  paramsSchema: {
    type: 'object',
    required: ['url'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 8192 },
      method: { type: 'string', enum: ['POST', 'PUT', 'PATCH'], default: 'POST' },
      headers: STRING_MAP,
      payload: {
        description: 'JSON to send; default: {input, nodes, execution} (the execution context, secrets excluded)',
      },
      timeout_ms: { ...TIMEOUT_MS, default: 30_000 },
    },
  },
  execute: (ctx) => {
    const p = ctx.params;
    const { input, nodes, execution } = ctx.scope;
    return callHttp(ctx, {
      method: String(p.method ?? 'POST'),
      url: String(p.url),
      headers: p.headers as Record<string, string> | undefined,
      body: p.payload === undefined ? { input, nodes, execution } : p.payload,
      timeoutMs: Number(p.timeout_ms ?? 30_000),
      maxResponseBytes: 10_485_760,
    });
  },
};
