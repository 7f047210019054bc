/**
 * The hand-written layer of the client (FlowRunnerClient) against a live server: credentials of
 * every kind, paging through each kind of list, following with an API key, failing fast, and
 * run-and-wait.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import {
  FlowRunnerClient,
  FlowRunnerError,
  followExecution,
  type ExecutionEvent,
  type WebSocketConstructor,
} from '../../generated/client/index';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const WS = WebSocket as unknown as WebSocketConstructor;
const QUICK =
  'nodes:\n  start:\n    type: log\n    params: {message: one}\n    next: two\n  two:\n    type: transform\n    params: {expression: "input.n * 2"}\n';

async function failure(call: Promise<unknown>): Promise<FlowRunnerError> {
  try {
    await call;
  } catch (err) {
    expect(err).to.be.instanceOf(FlowRunnerError);
    return err as FlowRunnerError;
  }
  return expect.fail('the call succeeded');
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('FlowRunnerClient', () => {
  let server: TestServer;
  let alice: TestAccount;
  let client: FlowRunnerClient;
  let flowId: string;
  let executionIds: string[];

  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    client = new FlowRunnerClient({ baseUrl: server.url, token: alice.token, WebSocket: WS });
    flowId = await makeFlow(alice, QUICK);
    executionIds = [];
    for (let n = 1; n <= 5; n++) {
      const { data } = await client.executions.runFlow({ id: flowId, runFlowRequest: { input: { n } } });
      executionIds.push(data.execution_id);
    }
    for (const id of executionIds) await waitForExecution(alice, id);
  });
  after(() => server.close());

  it('logs in, then authenticates with a token, an API key or getToken alike', async () => {
    const anonymous = new FlowRunnerClient({ baseUrl: server.url });
    const { data: login } = await anonymous.auth.login({
      loginRequest: { username: alice.account.email, password: alice.password },
    });
    const { data: key } = await new FlowRunnerClient({ baseUrl: server.url, token: login.token }).apiKeys.createApiKey({
      apiKeyCreate: { name: 'layer' },
    });
    let asked = 0;
    const clients = [
      new FlowRunnerClient({ baseUrl: `${server.url}/`, token: login.token }),
      new FlowRunnerClient({ baseUrl: server.url, apiKey: key.key }),
      new FlowRunnerClient({ baseUrl: server.url, getToken: async () => (asked++, login.token) }),
    ];
    for (const c of clients) expect((await c.users.getCurrentUser()).data.id).to.equal(alice.account.id);
    expect(asked).to.equal(1);
    expect((await failure(anonymous.users.getCurrentUser())).status).to.equal(401);
  });

  it('pages through executions (cursor), flows, logs, steps and events (offset, seq) to the end', async () => {
    const all = await collect(client.executions.list({ flowId, limit: 2 }));
    expect(all.map((e) => e.id)).to.deep.equal([...executionIds].reverse()); // newest first
    let pages = 0;
    for await (const page of client.executions.list({ flowId, limit: 2 }).pages()) {
      pages++;
      expect(page.executions.length).to.be.at.most(2);
    }
    expect(pages).to.equal(3);
    expect((await collect(client.executions.list({ flowId, status: 'failed' }))).length).to.equal(0);

    const more = await makeFlow(alice, QUICK);
    const flows = await collect(client.flows.list({ limit: 1 }));
    expect(flows.map((f) => f.id)).to.include.members([flowId, more]);

    const id = executionIds[0];
    const [logs, steps, events] = await Promise.all([
      collect(client.executions.listLogs({ id, limit: 1 })),
      collect(client.executions.listSteps({ id, limit: 1 })),
      collect(client.executions.listEvents({ id, limit: 2 })),
    ]);
    const stored = (await alice.client.executions.getExecutionEvents({ id })).data.events;
    expect(events.map((e) => e.seq)).to.deep.equal(stored.map((e) => e.seq));
    expect(steps.map((s) => s.node_id)).to.deep.equal(['start', 'two']);
    expect(logs.map((l) => l.message)).to.include('one');
  });

  it('pages through runs by cursor', async () => {
    const runs = await collect(client.runs.list({ limit: 2 }));
    expect(runs.map((r) => r.id)).to.include.members(executionIds);
  });

  it('runs a flow and waits for its result', async () => {
    const execution = await client.runAndWait(flowId, { input: { n: 21 } });
    expect(execution).to.include({ status: 'completed', result: 42, flow_id: flowId });
    const failed = await client.runAndWait(
      await makeFlow(alice, 'nodes:\n  start:\n    type: fail\n    params: {message: no}\n'),
    );
    expect(failed.status).to.equal('failed');
  });

  it('runAndWait gives up at its time limit with a timeout error; the execution goes on', async () => {
    const waiting = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: approval\n    next: {approved: done}\n  done:\n    type: log\n    params: {message: done}\n',
    );
    const err = await failure(client.runAndWait(waiting, { timeoutMs: 1500 }));
    expect(err).to.include({ status: 0, code: 'timeout' });
    const id = err.path!.split('/').pop()!;
    expect((await client.executions.getExecution({ id })).data.status).to.equal('waiting');
  });

  it('follows an execution with an API key, to its final event', async () => {
    const { data: key } = await client.apiKeys.createApiKey({ apiKeyCreate: { name: 'follow' } });
    const withKey = new FlowRunnerClient({ baseUrl: server.url, apiKey: key.key, WebSocket: WS });
    const { data } = await withKey.executions.runFlow({ id: flowId, runFlowRequest: { input: { n: 2 } } });
    const seen: ExecutionEvent[] = [];
    const last = await withKey.followExecution(data.execution_id, { onEvent: (e) => seen.push(e) });
    expect(last).to.deep.include({ type: 'execution_completed', result: 4 });
    expect(seen[seen.length - 1]).to.deep.equal(last);
  });

  it('fails a follow at once on 401 and 404, with the FlowRunnerError, instead of reconnecting', async () => {
    let connections = 0;
    class Counting extends WebSocket {
      constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
        super(url, protocols, options);
        connections++;
      }
    }
    const unknown = await failure(
      client.followExecution('exec-missing', { WebSocket: Counting as unknown as WebSocketConstructor }),
    );
    expect(unknown).to.include({ status: 404, code: 'not_found' });
    const badToken = await failure(
      followExecution({
        baseUrl: server.url,
        token: 'not-a-token',
        executionId: executionIds[0],
        WebSocket: Counting as unknown as WebSocketConstructor,
      }),
    );
    expect(badToken).to.include({ status: 401, code: 'unauthorized' });
    expect(connections).to.equal(2);
  });

  it("hides another account's execution from a follow (404)", async () => {
    const bob = await makeAccount(server);
    const asBob = new FlowRunnerClient({ baseUrl: server.url, token: bob.token, WebSocket: WS });
    expect(await failure(asBob.followExecution(executionIds[0]))).to.include({ status: 404, code: 'not_found' });
  });
});
