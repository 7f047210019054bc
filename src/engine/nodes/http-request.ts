import { callHttp, withQuery } from './http-common';
import { STRING_MAP, TIMEOUT_MS, type NodeTypeModule, HTTP_RESPONSE_SCHEMA } from './types';

export const httpRequest: NodeTypeModule = {
  type: 'http.request',
  announces: true,
  category: 'integration',
  displayName: 'HTTP request',
  description:
    "Call an HTTP API. Loopback, private, link-local and metadata addresses are refused unless FLOWRUNNER_HTTP_ALLOW permits them. 5xx, 429 (no sooner than its Retry-After), network errors and timeouts are retried per the node's `retry`; other 4xx are not.",
  output: '{status_code, headers, body}: body is parsed JSON when the response says application/json, else text',
  outputSchema: HTTP_RESPONSE_SCHEMA,
  paramsSchema: {
    type: 'object',
    required: ['url'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 8192, description: 'http:// or https:// URL' },
      method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'], default: 'GET' },
      headers: { ...STRING_MAP, description: 'Request headers' },
      query: {
        type: 'object',
        additionalProperties: { type: ['string', 'number', 'boolean'] },
        description: 'Query parameters added to the URL',
      },
      body: { description: 'JSON value (sent as application/json) or string (sent as text/plain)' },
      timeout_ms: { ...TIMEOUT_MS, default: 30_000, description: 'Per attempt' },
      expect_status: {
        description: 'Statuses that count as success: a list of codes, or patterns like "2xx" (default "2xx")',
        oneOf: [
          { type: 'string', pattern: '^[1-5](xx|[0-9]{2})$' },
          {
            type: 'array',
            minItems: 1,
            items: {
              oneOf: [
                { type: 'integer', minimum: 100, maximum: 599 },
                { type: 'string', pattern: '^[1-5](xx|[0-9]{2})$' },
              ],
            },
          },
        ],
      },
      max_response_bytes: { type: 'integer', minimum: 1, maximum: 104_857_600, default: 10_485_760 },
    },
  },
  execute: (ctx) => {
    const p = ctx.params;
    return callHttp(
      ctx,
      {
        method: String(p.method ?? 'GET'),
        url: withQuery(String(p.url), p.query as Record<string, unknown> | undefined),
        headers: p.headers as Record<string, string> | undefined,
        body: p.body,
        timeoutMs: Number(p.timeout_ms ?? 30_000),
        maxResponseBytes: Number(p.max_response_bytes ?? 10_485_760),
      },
      p.expect_status,
    );
  },
};
