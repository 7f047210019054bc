/**
 * How workers take tasks from the queue: accounts in turn, so one account's backlog doesn't hold
 * back another's; and leases, so a task held by a worker that died runs elsewhere and the dead
 * holder can no longer complete it.
 */
import { expect } from 'chai';
import { newId } from '../../src/db/ids';
import { writeSteps } from '../../src/repositories/step-commits.repository';
import { countEngineFailure, takeLeasedTask } from '../../src/repositories/tasks.repository';
import { gappedEvents, startAll, stepsNotOnce, waitForAll } from '../support/engine-checks';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

const FINAL = ['completed', 'failed', 'cancelled'];

describe('engine: fair claims and expired leases', function () {
  this.timeout(240_000);
  let api: TestServer;
  let target: Target;
  before(async () => {
    // Starts through this server wait in the database for a worker: it runs none of its own.
    api = await startTestServer({}, undefined, { worker: false });
    target = await startTarget();
  });
  after(async () => {
    await target?.close();
    await api?.close();
  });

  it("runs another account's execution while one account's backlog is still mostly waiting", async () => {
    target.route('/slow', (_req, _body, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), 20);
    });
    const flow = `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/slow"}\n`;
    // A first: ids grow with time, so A's account sorts before B's, and a claim that favoured the
    // lowest account id would serve A's whole backlog first.
    const a = await makeAccount(api);
    const b = await makeAccount(api);
    const flowA = await makeFlow(a, flow);
    const flowB = await makeFlow(b, flow);
    const backlog: string[] = [];
    for (let n = 0; n < 12; n++)
      backlog.push(
        ...(await startAll(
          a,
          flowA,
          Array.from({ length: 50 }, () => ({})),
        )),
      );
    const unfinished = async () =>
      Number(
        (await api.db('executions').whereIn('id', backlog).whereNotIn('status', FINAL).count({ n: '*' }).first())!.n,
      );

    const worker = await startTestServer({ FLOWRUNNER_WORKER_CONCURRENCY: '2' });
    try {
      await eventually(async () => (await unfinished()) <= backlog.length - 10, {
        timeout: 60_000,
        what: "the worker to be busy with A's backlog",
      });
      const [single] = await startAll(b, flowB, [{}]);
      const done = await waitForExecution(b, single, FINAL, 120_000);
      const left = await unfinished();
      expect(done.status).to.equal('completed');
      // Strictly first come, first served, B's one would have waited for all of A's.
      expect(left, "A's executions still unfinished when B's completed").to.be.at.least(backlog.length / 2);
      await waitForAll(api.db, backlog, 180_000);
    } finally {
      await worker.close();
    }
  });

  it('reaps a task whose holder is gone, runs it on a live worker, and refuses the dead holder its commit', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    target.route('/held', (_req, _body, res) => {
      void held.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"done":true}'));
    });
    const owner = await makeAccount(api);
    const flowId = await makeFlow(
      owner,
      `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/held"}\n    next: done\n  done:\n    type: transform\n    params: {expression: "nodes.start.output.body.done"}\n`,
    );
    const [id] = await startAll(owner, flowId, [{}]);
    // No worker runs yet: the entry task waits unleased, and now looks held by one that died.
    const dead = 'gone-host:1:dead00';
    const marked = await api
      .db('tasks')
      .where({ execution_id: id, lease_owner: null })
      .update({ lease_owner: dead, lease_expires_at: api.db.raw("now() - interval '1 second'") });
    expect(marked).to.equal(1);
    const [task] = await api.db('tasks').where({ execution_id: id });

    const hitsBefore = target.hits.length;
    const worker = await startTestServer({ FLOWRUNNER_LEASE_MS: '2000' });
    try {
      await eventually(() => target.hits.length > hitsBefore, {
        timeout: 30_000,
        what: 'the live worker to call /held',
      });
      const running = await api.db('tasks').where({ execution_id: id }).select('id', 'lease_owner');
      expect(running).to.deep.equal([{ id: task.id, lease_owner: worker.engine.worker!.id }]);

      // The dead holder's commit, on the hot path and on the per-step path: nothing is written.
      const before = await api.db('executions').where({ id }).first();
      const now = new Date();
      const out = await writeSteps(api.db, dead, 2000, [
        {
          taskId: task.id,
          executionId: id,
          status: 'running',
          startedAt: now,
          currentNode: 'start',
          nodeStartedAt: now,
          outputs: { start: { output: { stale: true } } },
          values: null,
          result: null,
          error: null,
          completedAt: null,
          events: [{ type: 'node_completed', payload: { node_id: 'start', node_type: 'http.request' } }],
          steps: [
            {
              id: newId('step'),
              execution_id: id,
              node_id: 'start',
              node_type: 'http.request',
              attempt: 1,
              status: 'completed',
              input: null,
              output: { stale: true },
              error: null,
              actor_id: null,
              started_at: now,
              completed_at: now,
            },
          ],
          next: { node: 'done', attempt: 1, leased: true },
        },
      ]);
      expect([...out.applied], 'steps the dead holder wrote').to.deep.equal([]);
      expect(await api.db.transaction((tx) => takeLeasedTask(tx, task.id, dead))).to.equal(false);
      expect(await countEngineFailure(api.db, task.id, dead)).to.equal(undefined);
      const after = await api.db('executions').where({ id }).first();
      expect(after).to.deep.equal(before);
      expect(await api.db('steps').where({ execution_id: id })).to.deep.equal([]);
      expect(await api.db('tasks').where({ execution_id: id }).select('id', 'lease_owner')).to.deep.equal(running);

      release();
      const done = await waitForExecution(owner, id);
      expect([done.status, done.result]).to.deep.equal(['completed', true]);
      expect(target.hits.length - hitsBefore, 'calls to /held').to.equal(1);
      expect(await stepsNotOnce(api.db, [id], ['start', 'done'])).to.deep.equal([]);
      expect(await gappedEvents(api.db, [id])).to.deep.equal([]);
    } finally {
      release();
      await worker.close();
    }
  });
});
