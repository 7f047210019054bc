import { expect } from 'chai';
import { apiClient } from '../support/client';
import { testDatabaseUrl } from '../support/database';
import { makeAccount } from '../support/factories';
import { startProcess, type Proc } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { record, wsUrl } from '../support/ws';

describe('processes: events reach subscribers on every API process', function () {
  this.timeout(180_000);
  let helper: TestServer;
  const procs: Proc[] = [];
  before(async () => {
    helper = await startTestServer({}, undefined, { worker: false });
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await helper.close();
  });

  it('two API processes and a worker process: a subscriber on each API gets every event, in order', async () => {
    const [api1, api2, worker] = await Promise.all([
      startProcess('api', testDatabaseUrl()),
      startProcess('api', testDatabaseUrl()),
      startProcess('worker', testDatabaseUrl()),
    ]);
    procs.push(api1, api2, worker);
    const owner = await makeAccount(helper);
    const client = apiClient(api1.url!, { token: owner.token });
    const definition =
      'nodes:\n  start:\n    type: delay\n    params: {ms: 300}\n    next: n1\n' +
      Array.from(
        { length: 20 },
        (_, i) =>
          `  n${i + 1}:\n    type: log\n    params: {message: "line ${i + 1}"}\n${i < 19 ? `    next: n${i + 2}\n` : ''}`,
      ).join('');
    const flowId = (await client.flows.createFlow({ flowCreate: { name: 'fan-out', definition } })).data.id;
    const { data } = await client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const headers = { authorization: `Bearer ${owner.token}` };
    const on1 = record(wsUrl(api1.url!, `/ws/executions/${data.execution_id}`), { headers });
    const on2 = record(wsUrl(api2.url!, `/ws/executions/${data.execution_id}`), { headers });
    expect(await on1.done).to.deep.equal({ code: 1000 });
    expect(await on2.done).to.deep.equal({ code: 1000 });
    const stored = (await client.executions.getExecutionEvents({ id: data.execution_id, since: 0, limit: 1000 })).data
      .events;
    const seqs = stored.map((e) => e.seq);
    expect(seqs).to.deep.equal(seqs.map((_, i) => i + 1));
    expect(on1.messages.map((m) => m.seq)).to.deep.equal(seqs);
    expect(on2.messages.map((m) => m.seq)).to.deep.equal(seqs);
    expect(on2.messages.filter((m) => m.type === 'log' && String(m.message).startsWith('line '))).to.have.length(20);
  });
});
