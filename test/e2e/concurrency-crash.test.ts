/**
 * Issue 18's property test of concurrency limits across processes: whatever the keys, the order
 * of starts and a worker SIGKILLed mid-step, no more than `limit` executions of a key are ever in
 * flight (as the called service sees it, and as the slots say), and once everything has finished
 * no slot is left behind: every execution completed, each step exactly once.
 */
import { expect } from 'chai';
import { apiClient } from '../support/client';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { makeAccount } from '../support/factories';
import { startProcess, type Proc } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

describe('processes: concurrency limits hold under races and a SIGKILLed worker', function () {
  this.timeout(300_000);
  let helper: TestServer;
  let target: Target;
  const procs: Proc[] = [];
  const LIMIT = 2;
  const KEYS = ['a', 'b', 'c'];
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();

  before(async () => {
    helper = await startTestServer({}, undefined, { worker: false });
    target = await startTarget();
    target.route('/work', (req, _body, res) => {
      const key = new URL(req.url!, target.url).searchParams.get('k')!;
      const now = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, now);
      maxInFlight.set(key, Math.max(maxInFlight.get(key) ?? 0, now));
      // Answered or cut off (its worker was killed), the call is no longer in flight.
      res.on('close', () => inFlight.set(key, inFlight.get(key)! - 1));
      setTimeout(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
        20 + Math.floor(Math.random() * 60),
      );
    });
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await target.close();
    await helper.close();
  });

  it(`60 starts over ${KEYS.length} keys at limit ${LIMIT}: in flight ≤ limit throughout, no slot leaks after a SIGKILL`, async () => {
    const workerEnv = { FLOWRUNNER_LEASE_MS: '2000', FLOWRUNNER_WORKER_CONCURRENCY: '16' };
    const api = await startProcess('api', testDatabaseUrl());
    procs.push(api);
    const doomed = await startProcess('worker', testDatabaseUrl(), workerEnv);
    const survivor = await startProcess('worker', testDatabaseUrl(), workerEnv);
    procs.push(doomed, survivor);
    const owner = await makeAccount(helper);
    const client = apiClient(api.url!, { token: owner.token });
    const definition = `concurrency: {limit: ${LIMIT}, key: "{{ input.k }}"}
nodes:
  start:
    type: http.request
    params: {url: "${target.url}/work?k={{ input.k }}"}
    next: done
  done:
    type: transform
    params: {expression: "input.i"}
`;
    const flowId = (await client.flows.createFlow({ flowCreate: { name: 'limited crash', definition } })).data.id;
    // Random keys, started in racing groups of ten.
    const inputs = Array.from({ length: 60 }, (_, i) => ({ i, k: KEYS[Math.floor(Math.random() * KEYS.length)] }));
    const ids: string[] = [];
    for (let g = 0; g < 60; g += 10)
      ids.push(
        ...(
          await Promise.all(
            inputs
              .slice(g, g + 10)
              .map((input) => client.executions.runFlow({ id: flowId, runFlowRequest: { input } })),
          )
        ).map((r) => r.data.execution_id),
      );

    /** What the database says holds each key: slots held, and executions running. */
    const checkSlots = async () => {
      const holding = await helper
        .db('concurrency_slots')
        .where({ flow_id: flowId, holding: true })
        .groupBy('key')
        .select('key')
        .count({ n: '*' });
      for (const row of holding as { key: string; n: string }[])
        expect(Number(row.n), `slots held of key ${row.key}`).to.be.at.most(LIMIT);
      const running = await helper
        .db('executions')
        .where({ flow_id: flowId, status: 'running' })
        .groupBy('concurrency_key')
        .select('concurrency_key')
        .count({ n: '*' });
      for (const row of running as { concurrency_key: string; n: string }[])
        expect(Number(row.n), `running executions of key ${row.concurrency_key}`).to.be.at.most(LIMIT);
    };

    await eventually(
      async () => {
        await checkSlots();
        return target.hits.length >= 12;
      },
      { timeout: 60_000, what: '12 calls to have started' },
    );
    await doomed.stop('SIGKILL');

    await eventually(
      async () => {
        await checkSlots();
        const { data } = await client.executions.listExecutions({ flowId, status: 'completed' as never, limit: 1 });
        expect(data.total, 'completed executions').to.equal(60);
      },
      { timeout: 180_000, interval: 50, what: 'all 60 executions to complete' },
    );
    for (const key of KEYS)
      expect(maxInFlight.get(key) ?? 0, `calls of key ${key} in flight at once`).to.be.at.most(LIMIT);
    expect(await helper.db('concurrency_slots').where({ flow_id: flowId })).to.deep.equal([]);
    const steps = await helper
      .db('steps')
      .whereIn('execution_id', ids)
      .where({ status: 'completed' })
      .select('execution_id', 'node_id')
      .count({ n: '*' })
      .groupBy('execution_id', 'node_id');
    expect(steps).to.have.length(120);
    expect(steps.filter((r) => Number(r.n) !== 1)).to.deep.equal([]);
    expect(await helper.db('tasks').whereIn('execution_id', ids)).to.deep.equal([]);
  });
});
