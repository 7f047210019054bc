import { expect } from 'chai';
import { NODE_TYPES } from '../../src/engine/nodes';
import { ajv } from '../../src/engine/definition';
import { apiClient, expectError } from '../support/client';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const SEED_DEFINITION =
  'metadata:\n name: "My Flow"\n description: "A simple flow"\n version: "1.0.0"\n\nnodes:\n start:\n  type: "http.request"\n  params:\n   url: "https://api.example.com/data"\n   method: "GET"\n  next:\n   default: "end"\n \n end:\n  type: "webhook"\n  params:\n   url: "https://webhook.example.com/callback"\n   method: "POST"\n';

const simple = (message = 'hello') => `nodes:\n  start:\n    type: log\n    params: {message: "${message}"}\n`;

describe('flows', () => {
  let server: TestServer;
  let admin: TestAccount;
  let alice: TestAccount;
  let bob: TestAccount;
  before(async () => {
    server = await startTestServer();
    admin = await makeAccount(server, { role: 'admin' });
    alice = await makeAccount(server);
    bob = await makeAccount(server);
  });
  after(() => server.close());

  it("creates 004's example and reads it back", async () => {
    const { data, status } = await alice.client.flows.createFlow({
      flowCreate: {
        name: 'My Flow',
        description: 'A simple flow',
        definition: SEED_DEFINITION,
        tags: ['production'],
      },
    });
    expect(status).to.equal(201);
    expect(data).to.include({
      name: 'My Flow',
      description: 'A simple flow',
      version: '1.0.0',
      version_number: 1,
      definition: SEED_DEFINITION,
      account_id: alice.account.id,
    });
    expect(data.id).to.match(/^flow-/);
    expect(data.tags).to.deep.equal(['production']);
    expect((await alice.client.flows.getFlow({ id: data.id })).data).to.deep.equal(data);
  });

  it('uses the version number when metadata has no version, and the request name over metadata.name', async () => {
    const { data } = await alice.client.flows.createFlow({
      flowCreate: {
        name: 'Request wins',
        definition: 'metadata: {name: Other}\n' + simple(),
      },
    });
    expect(data).to.include({ name: 'Request wins', version: '1', description: '' });
  });

  it('rejects an invalid definition with 422 and every problem in details', async () => {
    const err = await expectError(
      alice.client.flows.createFlow({
        flowCreate: { name: 'Bad', definition: 'nodes:\n  start:\n    type: nope\n    next: ghost\n' },
      }),
      422,
      'validation_error',
    );
    const errors = err.details!.errors as { node: string; path: string; message: string }[];
    expect(err.details!.field).to.equal('definition');
    expect(errors.map((e) => e.path)).to.include.members(['nodes.start.type', 'nodes.start.next.default']);
    const yaml = await expectError(
      alice.client.flows.createFlow({ flowCreate: { name: 'Bad', definition: 'nodes: [' } }),
      422,
      'validation_error',
    );
    expect((yaml.details!.errors as { line: number }[])[0].line).to.equal(1);
    expect(await server.db('flows').where({ name: 'Bad' })).to.have.length(0);
  });

  it('makes a new version only when the definition changes, and keeps old ones readable', async () => {
    const { data: flow } = await alice.client.flows.createFlow({
      flowCreate: { name: 'Versioned', definition: simple('v1') },
    });
    const renamed = (
      await alice.client.flows.updateFlow({ id: flow.id, flowUpdate: { name: 'Versioned 2', tags: ['a', 'b', 'a'] } })
    ).data;
    expect(renamed).to.include({ name: 'Versioned 2', version_number: 1 });
    expect(renamed.tags).to.deep.equal(['a', 'b']);
    const same = (await alice.client.flows.updateFlow({ id: flow.id, flowUpdate: { definition: simple('v1') } })).data;
    expect(same.version_number).to.equal(1);
    const v2 = (
      await alice.client.flows.updateFlow({
        id: flow.id,
        flowUpdate: { definition: 'metadata: {version: "2.0.0"}\n' + simple('v2') },
      })
    ).data;
    expect(v2).to.include({ version_number: 2, version: '2.0.0' });

    const versions = (await alice.client.flows.listFlowVersions({ id: flow.id })).data;
    expect(versions.total).to.equal(2);
    expect(versions.versions.map((v) => [v.number, v.version])).to.deep.equal([
      [2, '2.0.0'],
      [1, '1'],
    ]);
    expect(versions.versions[0]).not.to.have.property('definition');
    const v1 = (await alice.client.flows.getFlowVersion({ id: flow.id, version: 1 })).data;
    expect(v1.definition).to.equal(simple('v1'));
    expect(v1.hash).to.match(/^[0-9a-f]{64}$/);
    expect(v1.hash).not.to.equal(versions.versions[0].hash);
    await expectError(alice.client.flows.getFlowVersion({ id: flow.id, version: 3 }), 404, 'not_found');
    await expectError(
      alice.client.flows.updateFlow({ id: flow.id, flowUpdate: { definition: 'nodes: {}' } }),
      422,
      'validation_error',
    );
    expect((await alice.client.flows.getFlow({ id: flow.id })).data.version_number).to.equal(2);
  });

  it('keeps names unique per organization among live flows (409), and frees a deleted name', async () => {
    const { data: first } = await alice.client.flows.createFlow({
      flowCreate: { name: 'Unique', definition: simple() },
    });
    const err = await expectError(
      alice.client.flows.createFlow({ flowCreate: { name: 'Unique', definition: simple() } }),
      409,
      'conflict',
    );
    expect(err.details?.field).to.equal('name');
    const { data: other } = await alice.client.flows.createFlow({
      flowCreate: { name: 'Other name', definition: simple() },
    });
    await expectError(alice.client.flows.updateFlow({ id: other.id, flowUpdate: { name: 'Unique' } }), 409, 'conflict');
    // Another account's (personal) organization may use the name.
    expect(
      (await bob.client.flows.createFlow({ flowCreate: { name: 'Unique', definition: simple() } })).status,
    ).to.equal(201);

    expect((await alice.client.flows.deleteFlow({ id: first.id })).data).to.deep.equal({
      message: 'Flow deleted successfully',
    });
    await expectError(alice.client.flows.getFlow({ id: first.id }), 404, 'not_found');
    await expectError(alice.client.flows.deleteFlow({ id: first.id }), 404, 'not_found');
    expect(await server.db('flow_versions').where({ flow_id: first.id })).to.have.length(1);
    expect(
      (await alice.client.flows.createFlow({ flowCreate: { name: 'Unique', definition: simple() } })).status,
    ).to.equal(201);
  });

  it('lists newest first with tag filters (all tags), limit, offset and total', async () => {
    const carol = await makeAccount(server);
    const made: string[] = [];
    for (const [name, tags] of [
      ['t1', ['x']],
      ['t2', ['x', 'y']],
      ['t3', ['y']],
      ['t4', ['x', 'y', 'z']],
    ] as const) {
      made.push(
        (await carol.client.flows.createFlow({ flowCreate: { name, definition: simple(), tags: [...tags] } })).data.id,
      );
    }
    const all = (await carol.client.flows.listFlows()).data;
    expect(all).to.include({ total: 4, limit: 10, offset: 0 });
    expect(all.flows.map((f) => f.name)).to.deep.equal(['t4', 't3', 't2', 't1']);
    expect(all.flows[0]).not.to.have.property('definition');
    expect((await carol.client.flows.listFlows({ tag: ['x'] })).data.flows.map((f) => f.name)).to.deep.equal([
      't4',
      't2',
      't1',
    ]);
    expect((await carol.client.flows.listFlows({ tag: ['x', 'y'] })).data.flows.map((f) => f.name)).to.deep.equal([
      't4',
      't2',
    ]);
    const page = (await carol.client.flows.listFlows({ limit: 2, offset: 1 })).data;
    expect(page).to.include({ total: 4, limit: 2, offset: 1 });
    expect(page.flows.map((f) => f.name)).to.deep.equal(['t3', 't2']);
    await expectError(carol.client.flows.listFlows({ limit: 101 }), 400, 'invalid_request');
  });

  it("hides another account's flows (404) and changes nothing; an admin sees all", async () => {
    const { data: flow } = await alice.client.flows.createFlow({
      flowCreate: { name: 'Private', definition: simple() },
    });
    await expectError(bob.client.flows.getFlow({ id: flow.id }), 404, 'not_found');
    await expectError(bob.client.flows.updateFlow({ id: flow.id, flowUpdate: { name: 'Mine now' } }), 404, 'not_found');
    await expectError(bob.client.flows.deleteFlow({ id: flow.id }), 404, 'not_found');
    await expectError(bob.client.flows.listFlowVersions({ id: flow.id }), 404, 'not_found');
    await expectError(bob.client.flows.getFlowVersion({ id: flow.id, version: 1 }), 404, 'not_found');
    expect((await bob.client.flows.listFlows({ limit: 100 })).data.flows.map((f) => f.id)).not.to.include(flow.id);
    expect((await alice.client.flows.getFlow({ id: flow.id })).data.name).to.equal('Private');

    expect((await admin.client.flows.getFlow({ id: flow.id })).data.id).to.equal(flow.id);
    expect((await admin.client.flows.listFlows({ limit: 100 })).data.total).to.be.greaterThan(
      (await alice.client.flows.listFlows({ limit: 100 })).data.total,
    );
  });

  it('rejects missing fields and an unauthenticated caller', async () => {
    const err = await expectError(
      alice.client.flows.createFlow({ flowCreate: { name: 'No definition' } as never }),
      400,
      'invalid_request',
    );
    expect(err.details?.field).to.equal('definition');
    await expectError(apiClient(server.url).flows.listFlows(), 401, 'unauthorized');
  });

  describe('node-type catalog', () => {
    it('lists every registered type with its params schema', async () => {
      const { data } = await alice.client.nodeTypes.listNodeTypes();
      expect(data.node_types.map((t) => t.type)).to.deep.equal([
        'http.request',
        'webhook',
        'transform',
        'condition',
        'switch',
        'delay',
        'log',
        'fail',
        'set',
        'approval',
        'input',
        'event',
        'callback',
        'subflow',
        'parallel',
        'join',
        'foreach',
      ]);
      const one = (await alice.client.nodeTypes.getNodeType({ type: 'condition' })).data;
      expect(one.outcomes).to.deep.equal(['true', 'false']);
      await expectError(alice.client.nodeTypes.getNodeType({ type: 'teleport' }), 404, 'not_found');
    });

    it('serves the very schemas that validation uses', async () => {
      const { data } = await alice.client.nodeTypes.listNodeTypes();
      for (const type of NODE_TYPES) {
        const listed = data.node_types.find((t) => t.type === type.type)!;
        expect(listed.params_schema, type.type).to.deep.equal(type.paramsSchema);
        expect(
          (await alice.client.nodeTypes.getNodeType({ type: type.type })).data.params_schema,
          type.type,
        ).to.deep.equal(type.paramsSchema);
      }
      // And the server's validation agrees with the served schema, both ways.
      const served = (await alice.client.nodeTypes.getNodeType({ type: 'log' })).data.params_schema;
      const validate = ajv.compile(served);
      const colour = { message: 'hi', colour: 'red' };
      const level = { message: 'hi', level: 'warn' };
      expect([validate(colour), validate(level)]).to.deep.equal([false, true]);
      const definition = (params: object) => `nodes:\n  start:\n    type: log\n    params: ${JSON.stringify(params)}\n`;
      await expectError(
        alice.client.flows.createFlow({ flowCreate: { name: 'Colour', definition: definition(colour) } }),
        422,
        'validation_error',
      );
      expect(
        (await alice.client.flows.createFlow({ flowCreate: { name: 'Level', definition: definition(level) } })).status,
      ).to.equal(201);
    });
  });
});
