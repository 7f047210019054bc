import { expect } from 'chai';
import { apiClient } from '../support/client';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { makeAccount, waitForExecution } from '../support/factories';
import { startProcess, type Proc } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

describe('processes: a worker killed mid-step loses nothing', function () {
  this.timeout(300_000);
  let helper: TestServer;
  let target: Target;
  const procs: Proc[] = [];
  before(async () => {
    // In-process only to make an account; the API and workers under test are separate processes.
    helper = await startTestServer({}, undefined, { worker: false });
    target = await startTarget();
    target.route('/work', (_req, _body, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), 30);
    });
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await target.close();
    await helper.close();
  });

  it('2 workers + 1 API run 200 executions while one worker is SIGKILLed; every step completes exactly once', async () => {
    const workerEnv = { FLOWRUNNER_LEASE_MS: '2000', FLOWRUNNER_WORKER_CONCURRENCY: '16' };
    const api = await startProcess('api', testDatabaseUrl());
    procs.push(api);
    const doomed = await startProcess('worker', testDatabaseUrl(), workerEnv);
    const survivor = await startProcess('worker', testDatabaseUrl(), workerEnv);
    procs.push(doomed, survivor);

    const owner = await makeAccount(helper);
    const client = apiClient(api.url!, { token: owner.token });
    const definition = `nodes:
  start:
    type: transform
    params: {expression: "input.i"}
    next: call
  call:
    type: http.request
    params: {url: "${target.url}/work?i={{ input.i }}"}
    next: done
  done:
    type: transform
    params: {expression: "nodes.start.output * 2"}
`;
    const flowId = (await client.flows.createFlow({ flowCreate: { name: 'crash test', definition } })).data.id;
    const ids: string[] = [];
    for (let i = 0; i < 200; i++)
      ids.push((await client.executions.runFlow({ id: flowId, runFlowRequest: { input: { i } } })).data.execution_id);

    // Kill one worker while HTTP steps are in flight.
    await eventually(() => target.hits.length >= 40, { timeout: 60_000, what: '40 HTTP steps to have started' });
    await doomed.stop('SIGKILL');

    let failed: { id: string; error?: string | null; steps: unknown[] }[] = [];
    await eventually(
      async () => {
        const { data } = await client.executions.listExecutions({ flowId, status: 'failed' as never, limit: 5 });
        if (data.total > 0) {
          // No point waiting: say why they failed.
          failed = await Promise.all(
            data.executions.map(async (e) => ({
              id: e.id,
              error: e.error,
              steps: (await client.executions.getExecutionSteps({ id: e.id })).data.steps.map((s) => [
                s.node_id,
                s.attempt,
                s.status,
                s.error,
              ]),
            })),
          );
          return true;
        }
        const completed = (await client.executions.listExecutions({ flowId, status: 'completed' as never, limit: 1 }))
          .data.total;
        expect(completed, 'completed executions').to.equal(200);
      },
      { timeout: 180_000, interval: 100, what: 'all 200 executions to complete' },
    );
    expect(failed, survivor.output()).to.deep.equal([]);
    const rows = await helper
      .db('steps')
      .whereIn('execution_id', ids)
      .where({ status: 'completed' })
      .select('execution_id', 'node_id')
      .count({ n: '*' })
      .groupBy('execution_id', 'node_id');
    expect(rows).to.have.length(600);
    expect(rows.filter((r) => Number(r.n) !== 1)).to.deep.equal([]);
    const results = await helper.db('executions').whereIn('id', ids).select('input', 'result');
    expect(results).to.have.length(200);
    expect(results.filter((r) => r.result !== r.input.i * 2)).to.deep.equal([]);
  });

  it('SIGTERM stops a worker gracefully: the in-flight step finishes, the process exits 0, the rest runs elsewhere', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    target.route('/held', (_req, _body, res) => {
      void held.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"done":true}'));
    });
    for (const p of procs) await p.stop('SIGKILL');
    const worker = await startProcess('worker', testDatabaseUrl(), { FLOWRUNNER_LEASE_MS: '2000', LOG_LEVEL: 'info' });
    procs.push(worker);
    const owner = await makeAccount(helper);
    const flowId = (
      await owner.client.flows.createFlow({
        flowCreate: {
          name: 'graceful',
          definition: `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/held"}\n    next: done\n  done:\n    type: transform\n    params: {expression: "nodes.start.output.body.done"}\n`,
        },
      })
    ).data.id;
    const hitsBefore = target.hits.length;
    const { data } = await owner.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    await eventually(() => target.hits.length > hitsBefore, { timeout: 20_000, what: 'the step to call /held' });
    const exit = worker.stop('SIGTERM');
    // Answer the call only once the worker is shutting down: the step is in flight during the stop.
    await worker.waitForOutput('"msg":"shutting down"', 20_000);
    release();
    expect(await exit).to.equal(0);
    const steps = await helper.db('steps').where({ execution_id: data.execution_id });
    expect(steps.map((s) => [s.node_id, s.status])).to.deep.equal([['start', 'completed']]);
    const next = await startProcess('worker', testDatabaseUrl());
    procs.push(next);
    expect((await waitForExecution(owner, data.execution_id)).result).to.equal(true);
  });
});
