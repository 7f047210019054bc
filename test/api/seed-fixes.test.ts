/** Issue 15: the small fixes that 004's and 003's own examples need. */
import axios from 'axios';
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, runToEnd, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

/** 004's create-flow example, exactly as the seed prints it (node fields one space too little). */
const SEED_DEFINITION =
  'metadata:\n name: "My Flow"\n description: "A simple flow"\n version: "1.0.0"\n\nnodes:\n start:\n type: "http.request"\n params:\n url: "https://api.example.com/data"\n method: "GET"\n next:\n default: "end"\n \n end:\n type: "webhook"\n params:\n url: "https://webhook.example.com/callback"\n method: "POST"\n';

describe('seed fixes (004 and 003)', () => {
  let server: TestServer;
  let alice: TestAccount;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
  });
  after(() => server.close());

  it("answers the seed's own definition with a 422 that says to indent the node fields, with the line", async () => {
    const err = await expectError(
      alice.client.flows.createFlow({ flowCreate: { name: 'My Flow', definition: SEED_DEFINITION } }),
      422,
      'validation_error',
    );
    expect(err.details?.field).to.equal('definition');
    expect(err.message).to.include('Indent `type`, `params`, `next` under their node id');
    const problems = err.details?.errors as { node: string; line: number; message: string }[];
    expect(problems.map((p) => [p.node, p.line])).to.deep.equal([
      ['start', 7],
      ['end', 15],
    ]);
  });

  it('takes the definition as a JSON object, stores it as YAML and runs it', async () => {
    const created = await alice.client.flows.createFlow({
      flowCreate: {
        name: 'json-definition',
        definition: {
          metadata: { version: '2.0.0' },
          nodes: { start: { type: 'transform', params: { expression: 'input.n * 2' } } },
        },
      },
    });
    expect(created.status).to.equal(201);
    expect(created.data.version).to.equal('2.0.0');
    expect(created.data.definition).to.include('type: transform');
    expect((await runToEnd(alice, created.data.id, { n: 21 })).result).to.equal(42);
    const updated = await alice.client.flows.updateFlow({
      id: created.data.id,
      flowUpdate: { definition: { nodes: { start: { type: 'transform', params: { expression: 'input.n + 1' } } } } },
    });
    expect(updated.data.definition).to.include('input.n + 1');
    expect((await runToEnd(alice, created.data.id, { n: 1 })).result).to.equal(2);
    const err = await expectError(
      alice.client.flows.createFlow({
        flowCreate: { name: 'json-bad', definition: { nodes: { start: { type: 'nope' } } } },
      }),
      422,
      'validation_error',
    );
    expect(err.details?.field).to.equal('definition');
  });

  it("names Content-Type in a 415's details", async () => {
    const res = await axios.post(`${server.url}/api/v1/flows`, 'name=x', {
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'text/plain' },
      validateStatus: () => true,
    });
    expect(res.status).to.equal(415);
    expect(res.data.error).to.include({ code: 'unsupported_media_type' });
    expect(res.data.error.details.field).to.equal('Content-Type');
  });

  it('cancelRun of a cancelled run answers 202 again; of a completed one 409', async () => {
    const waiting = await makeFlow(alice, 'nodes:\n  start:\n    type: delay\n    params: {ms: 60000}\n');
    const { data } = await alice.client.runs.startRun({ runStartRequest: { flow_id: waiting } });
    const first = await alice.client.runs.cancelRun({ runId: data.id });
    const again = await alice.client.runs.cancelRun({ runId: data.id });
    expect([first.status, again.status]).to.deep.equal([202, 202]);
    expect(again.data).to.deep.equal(first.data);
    expect(again.data.status).to.equal('cancelled');
    await expectError(alice.client.executions.cancelExecution({ id: data.id }), 409, 'conflict');
    const quick = await makeFlow(alice, 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n');
    const done = await runToEnd(alice, quick);
    await expectError(alice.client.runs.cancelRun({ runId: done.id }), 409, 'conflict');
  });

  it('listRuns filters by flow_id', async () => {
    const a = await makeFlow(alice, 'nodes:\n  start:\n    type: log\n    params: {message: a}\n');
    const b = await makeFlow(alice, 'nodes:\n  start:\n    type: log\n    params: {message: b}\n');
    const ra = (await alice.client.runs.startRun({ runStartRequest: { flow_id: a } })).data.id;
    const rb = (await alice.client.runs.startRun({ runStartRequest: { flow_id: b } })).data.id;
    await waitForExecution(alice, ra);
    await waitForExecution(alice, rb);
    const items = (await alice.client.runs.listRuns({ flowId: a })).data.items;
    expect(items.map((r) => r.id)).to.deep.equal([ra]);
    expect(items[0].flow_id).to.equal(a);
  });
});
