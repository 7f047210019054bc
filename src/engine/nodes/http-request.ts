import type { OutboundRequest } from '../http-guard';
import { callHttp, statusMatches, withQuery } from './http-common';
import { NodeError, STRING_MAP, TIMEOUT_MS, type NodeTypeModule, HTTP_RESPONSE_SCHEMA } from './types';

export const httpRequest: NodeTypeModule = {
  type: 'http.request',
  announces: true,
  category: 'integration',
  displayName: 'HTTP request',
  description:
    "Call an HTTP API. Loopback, private, link-local and metadata addresses are refused unless FLOWRUNNER_HTTP_ALLOW permits them. 5xx, 429 (no sooner than its Retry-After), network errors and timeouts are retried per the node's `retry`; other 4xx are not.",
  output:
    '{status_code, headers, body}: body is parsed JSON when the response says application/json, else text; with save_response_as_file, body is null and file is the saved file',
  outputSchema: {
    ...HTTP_RESPONSE_SCHEMA,
    properties: {
      ...(HTTP_RESPONSE_SCHEMA.properties as object),
      file: {
        description: 'With save_response_as_file: the saved file ({id, name, size, sha256, content_type})',
        type: ['object', 'null'],
      },
    },
  },
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
      body_file: {
        type: 'string',
        minLength: 1,
        maxLength: 200,
        description:
          'A file of the execution\'s account (usually a template: "{{ files[0].id }}") sent as the body, streamed, with the file\'s content type unless `headers` set one; instead of `body`',
      },
      save_response_as_file: {
        description:
          "Save the response body as a new file (streamed, up to FLOWRUNNER_MAX_FILE_BYTES) instead of reading it: `true`, or the file's name (default: the last segment of the URL). The output's `file` is its reference ({id, name, size, sha256, content_type}) and `body` is null; the execution lists it as an output",
        oneOf: [{ type: 'boolean' }, { type: 'string', minLength: 1, maxLength: 255 }],
      },
      connection: {
        type: 'string',
        minLength: 1,
        maxLength: 100,
        description:
          "Name of one of the account's connections (/api/v1/connections): its credentials are added to the request (an API key header or query parameter, Basic, a bearer token, or an OAuth2 client-credentials token the engine fetches and renews)",
      },
    },
  },
  execute: async (ctx) => {
    const p = ctx.params;
    const url = withQuery(String(p.url), p.query as Record<string, unknown> | undefined);
    let headers = p.headers as Record<string, string> | undefined;
    let bodyStream: OutboundRequest['bodyStream'];
    if (p.body_file !== undefined) {
      if (p.body !== undefined) throw new NodeError('http.request: give `body` or `body_file`, not both');
      const { file, stream } = await ctx.engine.files.open(String(p.body_file));
      bodyStream = { open: stream, length: file.size };
      if (!Object.keys(headers ?? {}).some((h) => h.toLowerCase() === 'content-type'))
        headers = { ...headers, 'content-type': file.content_type };
    }
    const save = p.save_response_as_file;
    const saveBody: OutboundRequest['saveBody'] =
      save === undefined || save === false
        ? undefined
        : async (stream, res) => {
            // A failed status is not kept: its body is dropped, and the step fails as usual.
            if (!statusMatches(res.status_code, p.expect_status)) {
              stream.resume();
              return null;
            }
            const name = typeof save === 'string' ? save : fileNameOf(url);
            return ctx.engine.files.save(name, res.headers['content-type'] || 'application/octet-stream', stream);
          };
    return callHttp(
      ctx,
      {
        method: String(p.method ?? 'GET'),
        url,
        headers,
        body: p.body,
        bodyStream,
        saveBody,
        timeoutMs: Number(p.timeout_ms ?? 30_000),
        maxResponseBytes: Number(p.max_response_bytes ?? 10_485_760),
      },
      p.expect_status,
      p.connection === undefined ? undefined : String(p.connection),
    );
  },
};

/** A saved response's default name: the URL's last path segment, else `response`. */
function fileNameOf(url: string): string {
  try {
    const last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
    return last.trim() !== '' && last.length <= 255 ? last : 'response';
  } catch {
    return 'response';
  }
}
