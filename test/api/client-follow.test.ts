import { expect } from 'chai';
import WebSocket from 'ws';
import { followExecution, type ExecutionEvent, type WebSocketConstructor } from '../../generated/client/index';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('the client helper followExecution', () => {
  let server: TestServer;
  let alice: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    flowId = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: delay\n    params: {ms: 300}\n    next: a\n  a:\n    type: log\n    params: {message: a}\n    next: b\n  b:\n    type: transform\n    params: {expression: "\'done\'"}\n',
    );
  });
  after(() => server.close());

  it('follows an execution to its end: replay, then live', async () => {
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const seen: ExecutionEvent[] = [];
    const last = await followExecution({
      baseUrl: server.url,
      token: alice.token,
      executionId: data.execution_id,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      onEvent: (e) => seen.push(e),
    });
    expect(last).to.deep.include({ type: 'execution_completed', result: 'done' });
    const stored = (await alice.client.executions.getExecutionEvents({ id: data.execution_id })).data.events;
    expect(seen).to.deep.equal(stored);
  });

  it('resumes after a dropped connection without a gap or a duplicate', async () => {
    let connections = 0;
    // A socket whose first connection drops (as a network would) after two messages.
    class Dropping extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        const n = ++connections;
        let received = 0;
        if (n === 1) this.on('message', () => ++received === 2 && this.terminate());
      }
    }
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const seen: ExecutionEvent[] = [];
    await followExecution({
      baseUrl: server.url,
      token: alice.token,
      executionId: data.execution_id,
      WebSocket: Dropping as unknown as WebSocketConstructor,
      onEvent: (e) => seen.push(e),
    });
    expect(connections).to.be.greaterThan(1);
    const stored = (await alice.client.executions.getExecutionEvents({ id: data.execution_id })).data.events;
    expect(seen.map((e) => e.seq)).to.deep.equal(stored.map((e) => e.seq));
  });
});
