import type { AxiosResponse } from 'axios';
import { expect } from 'chai';
import pg from 'pg';
import type { ExecutionRef, RunRef } from '../../generated/client/index';
import { expectError } from '../support/client';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

// Held open until someone approves: a wait on it ends only when the test says so.
const APPROVAL_FLOW =
  'approval: {required: true}\nnodes:\n  start:\n    type: transform\n    params: {expression: "\'ran\'"}\n';
const ECHO_FLOW = 'nodes:\n  start:\n    type: transform\n    params: {expression: "input.n * 2"}\n';
const FAILING_FLOW = 'nodes:\n  start:\n    type: fail\n    params: {message: "out of stock"}\n';

describe('run-and-wait and long polls', () => {
  let server: TestServer;
  let alice: TestAccount;
  let echo: string;
  let approval: string;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    echo = await makeFlow(alice, ECHO_FLOW);
    approval = await makeFlow(alice, APPROVAL_FLOW);
  });
  after(() => server.close());

  /** Until `n` requests of the server wait: whatever finishes from now on must wake them. */
  const requestsWaiting = (n: number) =>
    eventually(() => expect(server.services.completions.waitingRequests()).to.equal(n), {
      timeout: 20_000,
      what: `${n} waiting request(s)`,
    });

  describe('POST /flows/{id}/run', () => {
    it('finishes in time: 200 with the finished execution, as GET shows it', async () => {
      const res = await alice.client.executions.runFlow({
        id: echo,
        runFlowRequest: { input: { n: 21 } },
        prefer: 'wait=20',
      });
      expect(res.status).to.equal(200);
      expect(res.data).to.include({ status: 'completed', result: 42, error: null });
      expect(res.data.execution_id).to.equal(res.data.id);
      expect(res.headers['preference-applied']).to.equal('wait=20');
      expect(res.headers['content-location']).to.equal(`/api/v1/executions/${res.data.id}`);
      const { execution_id: _, ...asGet } = res.data;
      expect(asGet).to.deep.equal((await alice.client.executions.getExecution({ id: res.data.id })).data);
    });

    it('a failing flow: 200 with status failed and its error', async () => {
      const res = await alice.client.executions.runFlow({
        id: await makeFlow(alice, FAILING_FLOW),
        runFlowRequest: { input: {} },
        wait: 20,
      });
      expect(res.status).to.equal(200);
      expect(res.data.status).to.equal('failed');
      expect(res.data.error).to.contain('out of stock');
      // Asked for with ?wait, not Prefer: nothing to confirm.
      expect(res.headers['preference-applied']).to.equal(undefined);
    });

    it('times out: 202 with the current status, Location and Retry-After; it goes on and a later GET shows it finished', async () => {
      const res = (await alice.client.executions.runFlow({
        id: approval,
        runFlowRequest: { input: {} },
        prefer: 'wait=1',
      })) as unknown as AxiosResponse<ExecutionRef>;
      expect(res.status).to.equal(202);
      expect(res.data).to.include({ flow_id: approval, status: 'waiting' });
      expect(res.headers.location).to.equal(`/api/v1/executions/${res.data.execution_id}`);
      expect(Number(res.headers['retry-after'])).to.be.a('number').and.be.at.least(1);
      expect(res.headers['preference-applied']).to.equal('wait=1');
      await alice.client.hitl.approveExecution({ id: res.data.execution_id, decision: {} });
      expect(await waitForExecution(alice, res.data.execution_id)).to.include({ status: 'completed', result: 'ran' });
    });

    it('cancelled while waiting: 200 with status cancelled', async () => {
      const flowId = await makeFlow(alice, APPROVAL_FLOW);
      const answer = alice.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} }, prefer: 'wait=20' });
      await requestsWaiting(1);
      const [waiting] = (await alice.client.executions.listExecutions({ flowId })).data.executions;
      await alice.client.executions.cancelExecution({ id: waiting.id });
      const res = await answer;
      expect(res.status).to.equal(200);
      expect(res.data).to.include({ id: waiting.id, status: 'cancelled' });
    });

    it('an idempotent replay waits too', async () => {
      const first = (await alice.client.executions.runFlow({
        id: approval,
        runFlowRequest: { input: {} },
        idempotencyKey: 'replay-wait',
        wait: 0,
      })) as unknown as AxiosResponse<ExecutionRef>;
      expect(first.status).to.equal(202);
      expect(first.data.status).to.equal('waiting');
      const replay = alice.client.executions.runFlow({
        id: approval,
        runFlowRequest: { input: {} },
        idempotencyKey: 'replay-wait',
        prefer: 'wait=20',
      });
      await requestsWaiting(1);
      await alice.client.hitl.approveExecution({ id: first.data.execution_id, decision: {} });
      const res = await replay;
      expect(res.status).to.equal(200);
      expect(res.data).to.include({ id: first.data.execution_id, status: 'completed', result: 'ran' });
    });

    it('reads Prefer among other preferences', async () => {
      const res = await alice.client.executions.runFlow({
        id: echo,
        runFlowRequest: { input: { n: 1 } },
        prefer: 'respond-async, return=minimal; foo="a,b", Wait=15;x=y, handling=lenient',
      });
      expect(res.status).to.equal(200);
      expect(res.data.result).to.equal(2);
      expect(res.headers['preference-applied']).to.equal('wait=15');
    });

    it('without a wait answers 202 at once, as before', async () => {
      const res = (await alice.client.executions.runFlow({
        id: echo,
        runFlowRequest: { input: { n: 1 } },
        prefer: 'respond-async',
      })) as unknown as AxiosResponse<ExecutionRef>;
      expect(res.status).to.equal(202);
      // Its transform may have run and committed with the start (inline starts): the 202 says where it is.
      expect(res.data.status).to.be.oneOf(['queued', 'completed']);
      expect(res.headers.location).to.equal(`/api/v1/executions/${res.data.execution_id}`);
      expect(res.headers['preference-applied']).to.equal(undefined);
      await expectError(
        alice.client.executions.runFlow({ id: echo, runFlowRequest: { input: { n: 1 } }, wait: -1 }),
        400,
        'invalid_request',
      );
    });

    it('masks secrets in what it answers, like GET', async () => {
      await alice.client.secrets.putSecret({
        accountId: alice.account.id,
        secretWrite: { key: 'TOKEN', value: 'tok-run-and-wait' },
      });
      const flowId = await makeFlow(
        alice,
        'nodes:\n  start:\n    type: transform\n    params: {expression: "input.t"}\n',
      );
      const res = await alice.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: { t: 'tok-run-and-wait' } },
        prefer: 'wait=20',
      });
      expect(res.status).to.equal(200);
      expect(res.data.result).to.equal('***');
      expect(JSON.stringify(res.data)).not.to.contain('tok-run-and-wait');
    });
  });

  describe('POST /runs', () => {
    it('finishes in time: 200 with the run, as GET /runs/{id} shows it', async () => {
      const res = await alice.client.runs.startRun({
        runStartRequest: { flow_id: echo, input: { n: 5 } },
        prefer: 'wait=20',
      });
      expect(res.status).to.equal(200);
      expect(res.data).to.include({ status: 'completed', outputs: 10 });
      expect(res.headers['content-location']).to.equal(`/api/v1/runs/${res.data.id}`);
      expect(res.data).to.deep.equal((await alice.client.runs.getRun({ runId: res.data.id })).data);
    });

    it('times out: 202 RunRef with the current status, Location and Retry-After', async () => {
      const res = (await alice.client.runs.startRun({
        runStartRequest: { flow_id: approval },
        wait: 1,
      })) as unknown as AxiosResponse<RunRef>;
      expect(res.status).to.equal(202);
      expect(res.data.status).to.equal('waiting');
      expect(res.headers.location).to.equal(`/api/v1/runs/${res.data.id}`);
      expect(res.headers['retry-after']).to.equal('1');
      await alice.client.executions.cancelExecution({ id: res.data.id });
    });
  });

  describe('long polls', () => {
    it('GET /executions/{id} on a running execution answers when it ends', async () => {
      const { data } = await alice.client.executions.runFlow({ id: approval, runFlowRequest: { input: {} } });
      const poll = alice.client.executions.getExecution({ id: data.execution_id, prefer: 'wait=20' });
      await requestsWaiting(1);
      await alice.client.hitl.approveExecution({ id: data.execution_id, decision: {} });
      const res = await poll;
      expect(res.status).to.equal(200);
      expect(res.data).to.include({ status: 'completed', result: 'ran' });
      expect(res.headers['preference-applied']).to.equal('wait=20');
    });

    it('GET /runs/{id} likewise; when the wait runs out it is 200 with the current state', async () => {
      const { data } = await alice.client.runs.startRun({ runStartRequest: { flow_id: approval } });
      const ranOut = await alice.client.runs.getRun({ runId: data.id, wait: 1 });
      expect(ranOut.status).to.equal(200);
      expect(ranOut.data.status).to.equal('waiting');
      const poll = alice.client.runs.getRun({ runId: data.id, wait: 20 });
      await requestsWaiting(1);
      await alice.client.executions.cancelExecution({ id: data.id });
      expect((await poll).data.status).to.equal('cancelled');
    });

    it("another account's execution is 404 at once, waiting for nothing", async () => {
      const bob = await makeAccount(server);
      const { data } = await alice.client.executions.runFlow({ id: approval, runFlowRequest: { input: {} } });
      await expectError(
        bob.client.executions.getExecution({ id: data.execution_id, prefer: 'wait=20' }),
        404,
        'not_found',
      );
      await expectError(bob.client.runs.getRun({ runId: data.execution_id, wait: 20 }), 404, 'not_found');
      expect(server.services.completions.waitingRequests()).to.equal(0);
      await alice.client.executions.cancelExecution({ id: data.execution_id });
    });

    it('a client that goes away frees its place', async () => {
      const { data } = await alice.client.executions.runFlow({ id: approval, runFlowRequest: { input: {} } });
      const gone = new AbortController();
      const poll = alice.client.executions.getExecution(
        { id: data.execution_id, prefer: 'wait=20' },
        {
          signal: gone.signal,
        },
      );
      poll.catch(() => undefined);
      await requestsWaiting(1);
      gone.abort();
      await requestsWaiting(0);
      await alice.client.executions.cancelExecution({ id: data.execution_id });
    });
  });

  describe('limits', () => {
    let capped: TestServer;
    let full: TestServer;
    before(async () => {
      capped = await startTestServer({ FLOWRUNNER_MAX_WAIT_SECONDS: '1' }, undefined, { worker: false });
      full = await startTestServer({ FLOWRUNNER_MAX_WAITING_REQUESTS: '0' }, undefined, { worker: false });
    });
    after(async () => {
      await capped.close();
      await full.close();
    });

    it('a wait above the maximum is cut to it (not refused), and Preference-Applied says so', async () => {
      const carol = await makeAccount(capped);
      const flowId = await makeFlow(carol, APPROVAL_FLOW);
      const res = (await carol.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: {} },
        prefer: 'wait=3600',
      })) as unknown as AxiosResponse<ExecutionRef>;
      expect(res.status).to.equal(202);
      expect(res.headers['preference-applied']).to.equal('wait=1');
      const polled = await carol.client.executions.getExecution({ id: res.data.execution_id, wait: 2_147_483_647 });
      expect(polled.data.status).to.equal('waiting');
    });

    it('beyond the bound of waiting requests a request answers at once, its Prefer not applied', async () => {
      const dave = await makeAccount(full);
      const flowId = await makeFlow(dave, APPROVAL_FLOW);
      const res = (await dave.client.executions.runFlow({
        id: flowId,
        runFlowRequest: { input: {} },
        prefer: 'wait=20',
      })) as unknown as AxiosResponse<ExecutionRef>;
      expect(res.status).to.equal(202);
      expect(res.data.status).to.equal('waiting');
      expect(res.headers['preference-applied']).to.equal(undefined);
      const polled = await dave.client.executions.getExecution({ id: res.data.execution_id, prefer: 'wait=20' });
      expect(polled.data.status).to.equal('waiting');
      expect(polled.headers['preference-applied']).to.equal(undefined);
    });
  });

  describe('the executions_notify_finished trigger', () => {
    let listener: pg.Client;
    const payloads: string[] = [];
    let flowVersion: { flow_id: string; flow_version: number };
    before(async () => {
      listener = new pg.Client({ connectionString: testDatabaseUrl() });
      await listener.connect();
      listener.on('notification', (n) => payloads.push(n.payload ?? ''));
      await listener.query('listen flowrunner_finished');
      flowVersion = { flow_id: echo, flow_version: 1 };
    });
    after(() => listener.end());

    let seq = 0;
    /** Execution rows no worker will touch (they have no tasks), `running`. */
    async function insertRunning(n: number): Promise<string[]> {
      const ids = Array.from({ length: n }, () => `exec-trigger-${String(++seq).padStart(6, '0')}`);
      await server
        .db('executions')
        .insert(
          ids.map((id) => ({ id, account_id: alice.account.id, ...flowVersion, status: 'running', input: '{}' })),
        );
      return ids;
    }
    /** The notifications naming any of `ids`, as lists of ids. */
    const about = (ids: string[]) =>
      payloads.map((p) => p.split(',')).filter((named) => named.some((id) => ids.includes(id)));

    it('notifies once per statement with the ids that became final; nothing for other changes', async () => {
      const [a, b, c, marker] = await insertRunning(4);
      await server.db('executions').whereIn('id', [a, b]).update({ status: 'waiting' });
      await server.db('executions').whereIn('id', [a, b, c]).update({ status: 'completed' });
      // Already final, changed again: not "became final".
      await server.db('executions').whereIn('id', [a, b]).update({ status: 'failed', error: 'again' });
      await server.db('executions').where({ id: marker }).update({ status: 'cancelled' });
      const mine = [a, b, c, marker];
      // Notifications come in commit order: once the marker's is here, every earlier one is.
      await eventually(() => expect(about([marker])).to.have.length(1), { timeout: 10_000, what: 'the marker' });
      expect(about(mine).map((ids) => ids.sort())).to.deep.equal([[a, b, c].sort(), [marker]]);
    });

    it('splits a long list into payloads under 8000 bytes, each id once', async () => {
      const ids = await insertRunning(600);
      await server.db('executions').whereIn('id', ids).update({ status: 'failed' });
      await eventually(() => expect(about(ids).flat()).to.have.length(600), { timeout: 10_000, what: '600 ids' });
      const chunks = about(ids);
      expect(chunks.length).to.be.above(1);
      for (const chunk of chunks) expect(Buffer.byteLength(chunk.join(','))).to.be.below(8000);
      expect(new Set(chunks.flat())).to.deep.equal(new Set(ids));
    });
  });
});
