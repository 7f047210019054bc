import { expect } from 'chai';
import { apiClient } from '../support/client';
import { testDatabaseUrl } from '../support/database';
import { eventually } from '../support/eventually';
import { makeAccount } from '../support/factories';
import { startProcess, type Proc } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';

describe('processes: worker processes fire a schedule exactly once', function () {
  this.timeout(300_000);
  let helper: TestServer;
  const procs: Proc[] = [];
  before(async () => {
    // In-process only to make an account; the API and the workers under test are separate processes.
    helper = await startTestServer({}, undefined, { worker: false });
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await helper.close();
  });

  it('3 workers fire an every-second cron; one is SIGKILLed; every second is in the ledger once, each fire one execution', async () => {
    const workerEnv = { FLOWRUNNER_SCHEDULER_POLL_MS: '100' };
    const api = await startProcess('api', testDatabaseUrl());
    procs.push(api);
    const doomed = await startProcess('worker', testDatabaseUrl(), workerEnv);
    procs.push(doomed);
    for (let i = 0; i < 2; i++) procs.push(await startProcess('worker', testDatabaseUrl(), workerEnv));

    const owner = await makeAccount(helper);
    const client = apiClient(api.url!, { token: owner.token });
    const definition = 'nodes:\n  start:\n    type: log\n    params: {message: "{{ input.at }}"}\n';
    const flowId = (await client.flows.createFlow({ flowCreate: { name: 'every second', definition } })).data.id;
    const { data: schedule } = await client.schedules.createSchedule({
      scheduleCreate: {
        flow_id: flowId,
        cron: '* * * * * *',
        overlap_policy: 'allow',
        input: { at: '{{ trigger.scheduled_at }}' },
      },
    });
    const ledger = async () => (await client.schedules.listScheduleFires({ id: schedule.id, limit: 100 })).data;
    await eventually(async () => expect((await ledger()).total).to.be.at.least(4), {
      timeout: 60_000,
      what: 'four due times in the ledger',
    });
    await doomed.stop('SIGKILL');
    const killedAt = (await ledger()).total;
    await eventually(async () => expect((await ledger()).total).to.be.at.least(killedAt + 4), {
      timeout: 60_000,
      what: 'four more due times after the kill',
    });
    await client.schedules.pauseSchedule({ id: schedule.id, schedulePause: { note: 'test over' } });

    const { fires } = await ledger();
    const times = fires.map((f) => Date.parse(f.scheduled_at)).sort((a, b) => a - b);
    // One row per second from the first to the last: none missing, none twice.
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1], `gap after ${i}`).to.equal(1000);
    const fired = fires.filter((f) => f.status === 'fired');
    // Every second started a run, unless a tick came more than a second late (the catch-up rule) or
    // the pause had begun.
    expect(
      fires.filter((f) => f.status !== 'fired' && f.reason !== 'outside_catchup_window' && f.reason !== 'paused'),
    ).to.deep.equal([]);
    expect(fired.length).to.be.at.least(fires.length / 2);
    const executionIds = fired.map((f) => f.execution_id);
    expect(new Set(executionIds).size).to.equal(fired.length);
    const { data: started } = await client.executions.listExecutions({ limit: 100, triggerId: schedule.id });
    expect(started.executions.map((e) => e.id).sort()).to.deep.equal([...executionIds].sort());
    for (const e of started.executions) {
      const fire = fired.find((f) => f.execution_id === e.id)!;
      expect(e.trigger).to.deep.equal({ type: 'schedule', id: schedule.id, scheduled_at: fire.scheduled_at });
    }
  });
});
