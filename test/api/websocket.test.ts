import { expect } from 'chai';
import { apiClient } from '../support/client';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { record, wsUrl, type Recorded } from '../support/ws';

describe('WebSocket: live execution events', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let flowId: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    flowId = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: delay\n    params: {ms: 400}\n    next: say\n  say:\n    type: log\n    params: {message: "hello {{ input.name }}"}\n    next: done\n  done:\n    type: transform\n    params: {expression: "\'bye\'"}\n',
    );
  });
  after(() => server.close());

  const follow = (id: string, token = alice.token, query = '') =>
    record(wsUrl(server.url, `/ws/executions/${id}${query}`), { headers: { authorization: `Bearer ${token}` } });
  const shape = (m: { type: string; seq: number }[]) => m.map((e) => `${e.seq}:${e.type}`);

  it('gives the same full sequence when connected before the start, during, and after completion; then closes with 1000', async () => {
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { name: 'Ada' } } });
    const before = follow(data.execution_id);
    await waitForExecution(alice, data.execution_id, ['running']);
    const during = follow(data.execution_id);
    await waitForExecution(alice, data.execution_id);
    const after = follow(data.execution_id);
    const codes = await Promise.all([before.done, during.done, after.done]);
    expect(codes).to.deep.equal([{ code: 1000 }, { code: 1000 }, { code: 1000 }]);

    const stored = (await alice.client.executions.getExecutionEvents({ id: data.execution_id })).data.events;
    for (const r of [before, during, after]) expect(shape(r.messages)).to.deep.equal(shape(stored));
    expect(before.messages.map((m) => m.seq)).to.deep.equal(stored.map((_, i) => i + 1));
    const types = before.messages.map((m) => m.type);
    expect(types[0]).to.equal('execution_update');
    expect(types).to.include.members(['log', 'node_completed']);
    expect(types[types.length - 1]).to.equal('execution_completed');
    const log = before.messages.find((m) => m.type === 'log' && m.message === 'hello Ada')!;
    expect(log).to.include({ execution_id: data.execution_id, level: 'info', node_id: 'say', node_type: 'log' });
    expect(log.timestamp).to.be.a('string');
  });

  it('resumes after a seq with ?since=', async () => {
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: { name: 'Bo' } } });
    await waitForExecution(alice, data.execution_id);
    const resumed = follow(data.execution_id, alice.token, '?since=3');
    expect(await resumed.done).to.deep.equal({ code: 1000 });
    const stored = (await alice.client.executions.getExecutionEvents({ id: data.execution_id, since: 3 })).data.events;
    expect(shape(resumed.messages)).to.deep.equal(shape(stored));
    expect(resumed.messages[0].seq).to.equal(4);
  });

  it('authenticates like HTTP: header, API key, access_token, bearer subprotocol', async () => {
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    await waitForExecution(alice, data.execution_id);
    const path = `/ws/executions/${data.execution_id}`;
    const { data: key } = await alice.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'ws' } });
    const ways = [
      record(wsUrl(server.url, path), { headers: { 'x-api-key': key.key } }),
      record(wsUrl(server.url, `${path}?access_token=${alice.token}`)),
      record(wsUrl(server.url, path), { protocols: [`bearer.${alice.token}`] }),
    ];
    for (const w of ways) {
      expect(await w.done).to.deep.equal({ code: 1000 });
      expect(w.messages.length).to.be.greaterThan(3);
    }
  });

  it('refuses before the handshake: no token, bad token, revoked token (401), another account (404)', async () => {
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    const path = `/ws/executions/${data.execution_id}`;
    expect(await record(wsUrl(server.url, path)).done).to.deep.equal({ status: 401 });
    expect(await record(wsUrl(server.url, path), { headers: { authorization: 'Bearer nope' } }).done).to.deep.equal({
      status: 401,
    });
    const { data: login } = await apiClient(server.url).auth.login({
      loginRequest: {
        username: alice.account.email,
        password: alice.password,
      },
    });
    await apiClient(server.url, { token: login.token }).auth.logout();
    expect(await record(wsUrl(server.url, `${path}?access_token=${login.token}`)).done).to.deep.equal({ status: 401 });
    expect(await follow(data.execution_id, bob.token).done).to.deep.equal({ status: 404 });
    expect(
      await record(wsUrl(server.url, '/ws/elsewhere'), { headers: { authorization: `Bearer ${alice.token}` } }).done,
    ).to.deep.equal({ status: 404 });
  });

  it('streams every execution the caller may see on /ws/executions, and none of the others', async () => {
    const mine = record(wsUrl(server.url, '/ws/executions'), { headers: { authorization: `Bearer ${alice.token}` } });
    const theirs = record(wsUrl(server.url, '/ws/executions'), { headers: { authorization: `Bearer ${bob.token}` } });
    expect(await Promise.all([mine.opened, theirs.opened])).to.deep.equal([true, true]);
    const of = (r: Recorded, id: string) => r.messages.filter((m) => m.execution_id === id);
    const ended = (r: Recorded, id: string, who: string) =>
      eventually(() => expect(of(r, id).map((m) => m.type)).to.include('execution_completed'), {
        timeout: 20_000,
        what: `${who}'s account stream to carry the end of ${id}`,
      });
    const storedShape = async (id: string) =>
      shape((await alice.client.executions.getExecutionEvents({ id })).data.events);

    const own = (await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } })).data
      .execution_id;
    await ended(mine, own, 'alice');
    expect(shape(of(mine, own))).to.deep.equal(await storedShape(own));

    // Shared with bob while it waits for input: his stream carries all of it from then on.
    const asking = await makeFlow(
      alice,
      'nodes:\n  start:\n    type: input\n    params: {outcomes: [{name: go}]}\n    next: {go: done}\n  done:\n    type: log\n    params: {message: done}\n',
    );
    const shared = (await alice.client.executions.runFlow({ id: asking, runFlowRequest: {} })).data.execution_id;
    await waitForExecution(alice, shared, ['waiting']);
    await alice.client.sharing.shareExecution({ id: shared, shareCreate: { account_id: bob.account.id } });
    await alice.client.hitl.signalExecution({ id: shared, signal: { node_id: 'start', outcome: 'go', values: {} } });
    await ended(theirs, shared, 'bob');
    await ended(mine, shared, 'alice');
    const sharedShape = await storedShape(shared);
    expect(shape(of(theirs, shared))).to.deep.equal(sharedShape);
    expect(shape(of(mine, shared))).to.deep.equal(sharedShape);
    // By now bob's stream has carried later events than any of alice's own execution: none came.
    expect(theirs.messages.map((m) => m.execution_id)).to.deep.equal(of(theirs, shared).map(() => shared));
    mine.ws.close();
    theirs.ws.close();
  });

  it('closes a slow consumer with 1013 without affecting others', async () => {
    // 20 events of 600 kB, far more than socket buffers and the server's 1 MiB allowance hold. Log
    // nodes copy their input through an expression the sandbox evaluates (so no step runs in memory
    // with the one before it: each commits on its own), so the run takes seconds: the slow socket is
    // resumed well within the server's 30 s wait for the client's side of the close handshake (else
    // it sees 1006).
    const big = await makeFlow(
      alice,
      'nodes:\n' +
        Array.from(
          { length: 20 },
          (_, i) =>
            `  n${i}:\n    type: log\n    params: {message: "part ${i}", data: {blob: "{{ $string(input.blob) }}"}}\n${i < 19 ? `    next: n${i + 1}\n` : ''}`,
        ).join(''),
    );
    const { data } = await alice.client.executions.runFlow({
      id: big,
      runFlowRequest: { input: { blob: 'x'.repeat(600_000) } },
    });
    const slow = follow(data.execution_id);
    const fine = follow(data.execution_id);
    await slow.opened;
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await waitForExecution(alice, data.execution_id);
    expect(await fine.done).to.deep.equal({ code: 1000 });
    expect(fine.messages[fine.messages.length - 1].type).to.equal('execution_completed');
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await slow.done).to.deep.equal({ code: 1013 });
    expect(slow.messages.length).to.be.lessThan(fine.messages.length);
  });
});
