/**
 * Issue 18: a foreach is durable like every other step. A worker process SIGKILLed while a
 * foreach's iterations are calling out (some items done, some in flight, some pending) loses no
 * item, and another worker (once the dead one's leases expire) finishes the run with every result
 * in order; no item runs twice to completion. An item whose call was in flight at the kill may be
 * called again (effects are at-least-once, as documented), so this asserts completions, not calls.
 */
import { expect } from 'chai';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution } from '../support/factories';
import { startProcess, type Proc } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

describe('processes: a worker SIGKILLed mid-foreach', function () {
  this.timeout(300_000);
  let helper: TestServer;
  let target: Target;
  const procs: Proc[] = [];
  const ITEMS = 80;
  const CONCURRENCY = 5;
  /** Every call the target received, by item index; when each unanswered one came in; the cut-off ones. */
  const calls = new Map<number, number>();
  const inFlight = new Set<{ since: number }>();
  const cutOff = new Set<number>();

  before(async () => {
    // In-process API only (no worker): the workers under test are separate processes.
    helper = await startTestServer({}, undefined, { worker: false });
    target = await startTarget();
    target.route('/item', (_req, body, res) => {
      const { i } = JSON.parse(body) as { i: number };
      calls.set(i, (calls.get(i) ?? 0) + 1);
      const call = { since: Date.now() };
      inFlight.add(call);
      // Answered or cut off (its worker was killed), the call is no longer in flight.
      res.on('close', () => {
        inFlight.delete(call);
        if (!res.writableFinished) cutOff.add(i);
      });
      setTimeout(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n: i * 3 })),
        300 + Math.floor(Math.random() * 200),
      );
    });
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop('SIGKILL');
  });
  after(async () => {
    await target.close();
    await helper.close();
  });

  // Killed while the first iterations call out, and further in (each case with its own workers).
  for (const killAfter of [0, 20])
    it(`loses no item and runs none twice to completion (killed once ${killAfter}+ items are done)`, async () => {
      calls.clear();
      cutOff.clear();
      const workerEnv = { FLOWRUNNER_LEASE_MS: '1500', FLOWRUNNER_WORKER_CONCURRENCY: '16' };
      const doomed = await startProcess('worker', testDatabaseUrl(), workerEnv);
      procs.push(doomed);
      const owner = await makeAccount(helper);
      const flowId = await makeFlow(
        owner,
        `nodes:
  start:
    type: foreach
    params: {items: "{{ [0..${ITEMS - 1}] }}", concurrency: ${CONCURRENCY}}
    next: {each: call}
  call:
    type: http.request
    params: {url: "${target.url}/item", method: POST, body: {i: "{{ index }}"}}
    next: pick
  pick:
    type: transform
    params: {expression: "nodes.call.output.body.n + item"}
`,
      );
      const { data } = await owner.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
      const id = data.execution_id;

      // Mid-foreach: a call just begun (so answered 300 ms later at the earliest, well after the
      // kill), most items still pending.
      const itemsDone = async () =>
        Number(
          (await helper.db('foreach_items').where({ execution_id: id, status: 'completed' }).count({ n: '*' }))[0].n,
        );
      const justBegun = () => [...inFlight].some((call) => Date.now() - call.since < 100);
      await eventually(async () => (await itemsDone()) >= killAfter && justBegun(), {
        timeout: 120_000,
        interval: 5,
        what: `${killAfter} items done and a call just begun`,
      });
      await doomed.stop('SIGKILL');
      // The kill cut off the calls in flight: their iterations were interrupted mid-step.
      await eventually(() => cutOff.size > 0, {
        timeout: 10_000,
        what: 'the calls in flight to be cut off by the kill',
      });
      const doneAtKill = await itemsDone();
      expect(doneAtKill, 'items done when the worker was killed').to.be.below(ITEMS);

      const survivor = await startProcess('worker', testDatabaseUrl(), workerEnv);
      procs.push(survivor);
      const ex = await waitForExecution(owner, id, undefined, 240_000);
      expect(ex.status, ex.error ?? '').to.equal('completed');
      expect(ex.result).to.deep.equal({
        results: Array.from({ length: ITEMS }, (_, i) => i * 3 + i),
        errors: [],
      });
      expect(ex.progress.foreach).to.deep.equal({ node_id: 'start', done: ITEMS, total: ITEMS, failed: 0 });

      // Each item has exactly one child execution, completed, and the items say so.
      const children = await helper.db('executions').where({ parent_execution_id: id });
      const byIndex = new Map<number, string[]>();
      for (const c of children) byIndex.set(c.iteration.index, [...(byIndex.get(c.iteration.index) ?? []), c.status]);
      expect([...byIndex.keys()].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: ITEMS }, (_, i) => i));
      expect([...byIndex].filter(([, statuses]) => statuses.join() !== 'completed')).to.deep.equal([]);
      const items = await helper.db('foreach_items').where({ execution_id: id }).orderBy('idx');
      expect(items.map((it) => [it.idx, it.status])).to.deep.equal(
        Array.from({ length: ITEMS }, (_, i) => [i, 'completed']),
      );
      const childOf = new Map(children.map((c) => [c.iteration.index as number, c.id as string]));
      expect(items.filter((it) => it.child_execution_id !== childOf.get(it.idx))).to.deep.equal([]);

      // Each body step completed exactly once per item, the foreach node's steps once each.
      const childIds = children.map((c) => c.id as string);
      const steps = await helper
        .db('steps')
        .whereIn('execution_id', childIds)
        .where({ status: 'completed' })
        .select('execution_id', 'node_id')
        .count({ n: '*' })
        .groupBy('execution_id', 'node_id');
      expect(steps).to.have.length(ITEMS * 2);
      expect(steps.filter((r) => Number(r.n) !== 1)).to.deep.equal([]);
      const parentSteps = await helper.db('steps').where({ execution_id: id }).orderBy('started_at');
      expect(parentSteps.filter((s) => s.status === 'completed').map((s) => s.node_id)).to.deep.equal(['start']);

      // Nothing left to do; every item was called (those cut off by the kill twice).
      expect(await helper.db('tasks').whereIn('execution_id', [id, ...childIds])).to.deep.equal([]);
      expect([...calls.keys()].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: ITEMS }, (_, i) => i));
      for (const i of cutOff) expect(calls.get(i), `calls of item ${i}, cut off by the kill`).to.be.at.least(2);
    });
});
