/**
 * The client's retry policy and errors, against a local HTTP server that answers what each test
 * scripts (429 with Retry-After, 503, a dropped connection, 401…), then 200.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import {
  FlowRunnerClient,
  FlowRunnerError,
  retryDelay,
  parseRetryAfter,
  type RetryInfo,
} from '../../generated/client/index';

type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': `req-${status}`, ...headers });
    res.end(JSON.stringify(body));
  };
const apiError = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(status, { error: { code, message: `answered ${status}`, details: null } }, headers);
const drop: Answer = (req) => req.socket.destroy();

/** A server that answers requests with `answers` in turn (the last one for all the rest). */
async function scripted(answers: Answer[]) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const answer = answers[Math.min(seen.length, answers.length - 1)];
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function failure(call: Promise<unknown>): Promise<FlowRunnerError> {
  try {
    await call;
  } catch (err) {
    expect(err).to.be.instanceOf(FlowRunnerError);
    return err as FlowRunnerError;
  }
  return expect.fail('the call succeeded');
}

/** Every way an error gets printed or serialised, the cause chain included. */
function printed(err: Error): string {
  const forms = [String(err), JSON.stringify(err), inspect(err, { depth: 20, showHidden: true }), err.stack ?? ''];
  for (let cause = err.cause; cause; cause = (cause as Error).cause) forms.push(inspect(cause, { depth: 20 }));
  return forms.join('\n');
}

describe('the client: retries and errors', () => {
  let server: Awaited<ReturnType<typeof scripted>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('retries a GET after a 429, waiting what Retry-After says, then returns the 200', async () => {
    server = await scripted([apiError(429, 'rate_limited', { 'Retry-After': '1' }), json(200, { status: 'ok' })]);
    const retries: RetryInfo[] = [];
    const client = new FlowRunnerClient({ baseUrl: server.url, retry: { onRetry: (info) => retries.push(info) } });
    const { status, data } = await client.meta.getHealth();
    expect(status).to.equal(200);
    expect(data).to.deep.equal({ status: 'ok' });
    expect(server.seen).to.have.length(2);
    expect(retries).to.deep.equal([{ attempt: 1, delayMs: 1000, status: 429, method: 'GET', path: '/healthz' }]);
  });

  it('gives up after 2 retries by default, with the last answer as a FlowRunnerError', async () => {
    server = await scripted([apiError(503, 'unavailable')]);
    const client = new FlowRunnerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    const err = await failure(client.flows.getFlow({ id: 'flow-1' }));
    expect(server.seen).to.have.length(3);
    expect(err).to.include({ status: 503, code: 'unavailable', requestId: 'req-503', method: 'GET' });
    expect(err.path).to.equal('/api/v1/flows/flow-1');
  });

  it('retries after a dropped connection', async () => {
    server = await scripted([drop, json(200, { status: 'ok' })]);
    const client = new FlowRunnerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    expect((await client.meta.getHealth()).data).to.deep.equal({ status: 'ok' });
    expect(server.seen).to.have.length(2);
  });

  it('does not retry a POST without an Idempotency-Key, nor a 400, 404 or 501', async () => {
    server = await scripted([apiError(503, 'unavailable')]);
    const client = new FlowRunnerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    await failure(client.flows.createFlow({ flowCreate: { name: 'f', definition: 'nodes: {}' } }));
    expect(server.seen).to.have.length(1);
    for (const [status, code] of [
      [400, 'invalid_request'],
      [404, 'not_found'],
      [501, 'not_implemented'],
    ] as const) {
      await server.close();
      server = await scripted([apiError(status, code)]);
      const c = new FlowRunnerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
      expect((await failure(c.flows.getFlow({ id: 'f' }))).code).to.equal(code);
      expect(server.seen, String(status)).to.have.length(1);
    }
  });

  it('gives a start an Idempotency-Key of its own and retries it with the same key', async () => {
    server = await scripted([
      apiError(503, 'unavailable'),
      json(202, { execution_id: 'exec-1', flow_id: 'flow-1', status: 'queued', created_at: '2026-01-01T00:00:00Z' }),
    ]);
    const client = new FlowRunnerClient({ baseUrl: server.url, retry: { baseDelayMs: 1 } });
    const { status } = await client.executions.runFlow({ id: 'flow-1', runFlowRequest: { input: {} } });
    expect(status).to.equal(202);
    const keys = server.seen.map((s) => s.headers['idempotency-key']);
    expect(keys).to.have.length(2);
    expect(keys[0]).to.match(/^[0-9a-f-]{36}$/);
    expect(keys[1]).to.equal(keys[0]);
  });

  it("keeps the caller's own Idempotency-Key", async () => {
    server = await scripted([
      json(202, { id: 'run-1', flow_id: 'f', status: 'queued', created_at: '2026-01-01T00:00:00Z' }),
    ]);
    const client = new FlowRunnerClient({ baseUrl: server.url });
    await client.runs.startRun({ runStartRequest: { flow_id: 'f' }, idempotencyKey: 'order-42' });
    expect(server.seen[0].headers['idempotency-key']).to.equal('order-42');
  });

  it('does not wait for a Retry-After beyond its limit', async () => {
    server = await scripted([apiError(429, 'rate_limited', { 'Retry-After': '3600' })]);
    const client = new FlowRunnerClient({ baseUrl: server.url });
    const err = await failure(client.meta.getHealth());
    expect(err).to.include({ status: 429, code: 'rate_limited', retryAfter: 3600 });
    expect(server.seen).to.have.length(1);
  });

  it('backs off exponentially with jitter, up to its ceiling; reads Retry-After as seconds or a date', () => {
    const options = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(retryDelay(1, 503, null, options, () => 0)).to.equal(50);
    expect(retryDelay(1, 503, null, options, () => 1)).to.equal(100);
    expect(retryDelay(2, 0, null, options, () => 1)).to.equal(200);
    expect(retryDelay(2, 0, null, { ...options, maxRetries: 5 }, () => 0.5)).to.equal(150);
    expect(retryDelay(5, 503, null, { ...options, maxRetries: 5 }, () => 1)).to.equal(1000);
    expect(retryDelay(3, 503, null, options)).to.equal(null); // 2 retries by default
    expect(retryDelay(1, 404, null, options)).to.equal(null);
    expect(retryDelay(1, 429, '2', options)).to.equal(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).to.equal(5000);
    expect(parseRetryAfter('soon', now)).to.equal(null);
  });

  it('never prints a token, an API key or a password, whatever the failure', async () => {
    const token = 'tok-secret-31415926';
    const apiKey = 'frk_secret_27182818';
    const password = 'pw-secret-16180339';
    server = await scripted([apiError(401, 'unauthorized')]);
    const errors = [
      await failure(new FlowRunnerClient({ baseUrl: server.url, token }).flows.listFlows()),
      await failure(new FlowRunnerClient({ baseUrl: server.url, apiKey }).flows.listFlows()),
      await failure(
        new FlowRunnerClient({ baseUrl: server.url }).auth.login({ loginRequest: { username: 'a@b.c', password } }),
      ),
    ];
    // No answer at all: the connection is refused.
    const closed = server.url;
    await server.close();
    server = undefined;
    const refused = await failure(
      new FlowRunnerClient({ baseUrl: closed, token, retry: { maxRetries: 0 } }).flows.listFlows(),
    );
    expect(refused).to.include({ status: 0, code: 'network_error' });
    for (const err of [...errors, refused]) {
      const text = printed(err);
      for (const secret of [token, apiKey, password]) expect(text).not.to.contain(secret);
    }
    expect(errors[0]).to.include({ status: 401, code: 'unauthorized', requestId: 'req-401' });
    expect(JSON.parse(JSON.stringify(errors[0]))).to.include({
      status: 401,
      code: 'unauthorized',
      message: 'answered 401',
    });
    // The client itself shows no credential either.
    expect(inspect(new FlowRunnerClient({ baseUrl: closed, token }), { depth: 6 })).not.to.contain(token);
  });
});
