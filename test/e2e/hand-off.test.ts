/**
 * Tasks handed over in memory live in the database too: a start (or a next step) is committed
 * already leased to the local worker, so when the process dies after the commit, the lease
 * expires and another worker runs the task — once.
 */
import os from 'node:os';
import { expect } from 'chai';
import { apiClient } from '../support/client';
import { testDatabaseUrl } from '../support/database';
import { gappedEvents, stepsNotOnce } from '../support/engine-checks';
import { eventually } from '../support/eventually';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startProcess, type Proc } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Route, type Target } from '../support/target';

const SHORT_LEASE = { FLOWRUNNER_LEASE_MS: '2000' };

/** Leaves the first call hanging (until the process that made it dies); answers the later ones with their number. */
function hangsFirst(): Route {
  let calls = 0;
  return (_req, _body, res) => {
    const n = ++calls;
    if (n > 1) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n }));
  };
}

/** Calls `url`, then gives the number of the call that answered. */
const callThenNumber = (url: string) =>
  `nodes:\n  start:\n    type: http.request\n    params: {url: "${url}"}\n    next: done\n  done:\n    type: transform\n    params: {expression: "nodes.start.output.body.n"}\n`;

/** The worker id of a process starts with its host and pid (see newWorkerId). */
const workerOf = (proc: Proc) => `${os.hostname()}:${proc.child.pid}:`;

describe('processes: a task handed over in memory survives the death of its process', function () {
  this.timeout(300_000);
  let helper: TestServer;
  let target: Target;
  let procs: Proc[] = [];
  before(async () => {
    // In-process only to make accounts and read the database; the processes under test are separate.
    helper = await startTestServer({}, undefined, { worker: false });
    target = await startTarget();
  });
  afterEach(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    procs = [];
  });
  after(async () => {
    await target?.close();
    await helper?.close();
  });

  const hits = (path: string) => target.hits.filter((h) => h.path.startsWith(path)).length;
  const tasksOf = (id: string) => helper.db('tasks').where({ execution_id: id }).select('node_id', 'lease_owner');

  /** `owner` reading through the helper, which outlives the processes under test. */
  const readerFor = (owner: TestAccount) => ({ client: apiClient(helper.url, { token: owner.token }) });

  async function startAllProcess(): Promise<{ proc: Proc; owner: TestAccount }> {
    const proc = await startProcess('all', testDatabaseUrl(), { ...SHORT_LEASE, FLOWRUNNER_WORKER_CONCURRENCY: '1' });
    procs.push(proc);
    const owner = await makeAccount(helper);
    return { proc, owner: { ...owner, client: apiClient(proc.url!, { token: owner.token }) } };
  }

  it('a step running in the process that started it is run again elsewhere after kill -9, and completes once', async () => {
    target.route('/first', hangsFirst());
    const { proc, owner } = await startAllProcess();
    const flowId = await makeFlow(owner, callThenNumber(`${target.url}/first`));
    const { data } = await owner.client.executions.runFlow({ id: flowId, runFlowRequest: { input: {} } });
    const id = data.execution_id;
    await eventually(() => hits('/first') === 1, { timeout: 30_000, what: 'the step to call /first' });
    // Running where it was started, under that process's lease: it never went through a claim elsewhere.
    const running = await tasksOf(id);
    expect(running).to.have.length(1);
    expect(running[0].node_id).to.equal('start');
    expect(running[0].lease_owner)
      .to.be.a('string')
      .that.satisfies((o: string) => o.startsWith(workerOf(proc)));

    await proc.stop('SIGKILL');
    expect(await tasksOf(id), 'the task after the kill').to.deep.equal(running);
    const worker = await startProcess('worker', testDatabaseUrl(), SHORT_LEASE);
    procs.push(worker);

    const done = await waitForExecution(readerFor(owner), id, undefined, 60_000);
    expect([done.status, done.result], worker.output()).to.deep.equal(['completed', 2]);
    expect(hits('/first'), 'calls to /first').to.equal(2);
    expect(await stepsNotOnce(helper.db, [id], ['start', 'done'])).to.deep.equal([]);
    expect(await gappedEvents(helper.db, [id])).to.deep.equal([]);
    expect(await tasksOf(id)).to.deep.equal([]);
  });

  it('a start handed over but not yet run when its process is killed is run by another worker', async () => {
    target.route('/hang', hangsFirst());
    target.route('/later', (_req, _body, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"later":true}'),
    );
    const { proc, owner } = await startAllProcess();
    const hanging = await makeFlow(owner, callThenNumber(`${target.url}/hang`));
    const waiting = await makeFlow(
      owner,
      `nodes:\n  start:\n    type: http.request\n    params: {url: "${target.url}/later"}\n    next: done\n  done:\n    type: transform\n    params: {expression: "nodes.start.output.body.later"}\n`,
    );
    const first = (await owner.client.executions.runFlow({ id: hanging, runFlowRequest: { input: {} } })).data
      .execution_id;
    await eventually(() => hits('/hang') === 1, { timeout: 30_000, what: 'the first execution to call /hang' });
    // The worker's one slot is taken: this start is leased to it and waits in its ready queue.
    const second = (await owner.client.executions.runFlow({ id: waiting, runFlowRequest: { input: {} } })).data
      .execution_id;
    const handed = await tasksOf(second);
    expect(handed).to.have.length(1);
    expect(handed[0].lease_owner)
      .to.be.a('string')
      .that.satisfies((o: string) => o.startsWith(workerOf(proc)));

    await proc.stop('SIGKILL');
    expect(hits('/later'), 'calls to /later before the kill').to.equal(0);
    expect(await helper.db('steps').whereIn('execution_id', [first, second])).to.deep.equal([]);
    expect(await tasksOf(second), 'the handed-over task after the kill').to.deep.equal(handed);
    const worker = await startProcess('worker', testDatabaseUrl(), SHORT_LEASE);
    procs.push(worker);

    const ends = await Promise.all(
      [first, second].map((id) => waitForExecution(readerFor(owner), id, undefined, 60_000)),
    );
    expect(
      ends.map((e) => [e.status, e.result]),
      worker.output(),
    ).to.deep.equal([
      ['completed', 2],
      ['completed', true],
    ]);
    expect([hits('/hang'), hits('/later')]).to.deep.equal([2, 1]);
    expect(await stepsNotOnce(helper.db, [first], ['start', 'done'])).to.deep.equal([]);
    expect(await stepsNotOnce(helper.db, [second], ['start', 'done'])).to.deep.equal([]);
    expect(await gappedEvents(helper.db, [first, second])).to.deep.equal([]);
  });
});
