/** Issue 15 (001, 000): API keys as bearer credentials, flows by name and text, the fuller catalog. */
import { expect } from 'chai';
import { apiClient, expectError } from '../support/client';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

describe('seed catalog and access (001, 000)', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server);
    bob = await makeAccount(server);
  });
  after(() => server.close());

  it('takes an API key as Authorization: Bearer frk_… (001), the same as X-API-Key', async () => {
    const { key } = (await alice.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'bearer' } })).data;
    expect(key.startsWith('frk_')).to.equal(true);
    const viaBearer = apiClient(server.url, { token: key });
    expect((await viaBearer.users.getCurrentUser()).data.id).to.equal(alice.account.id);
    const viaHeader = apiClient(server.url, { apiKey: key });
    expect((await viaHeader.users.getCurrentUser()).data.id).to.equal(alice.account.id);
    await expectError(apiClient(server.url, { token: `${key}x` }).users.getCurrentUser(), 401, 'unauthorized');
    await expectError(apiClient(server.url, { token: 'frk_nope' }).users.getCurrentUser(), 401, 'unauthorized');
  });

  it('lists flows by exact name and by a substring of name or description (000)', async () => {
    const def = 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n';
    const invoice = await makeFlow(alice, def, 'Invoice sync');
    const other = (
      await alice.client.flows.createFlow({
        flowCreate: { name: 'Nightly', description: 'Copies INVOICES to the archive', definition: def },
      })
    ).data.id;
    await makeFlow(alice, def, '100%_done');
    await makeFlow(bob, def, 'Invoice sync');
    const byName = (await alice.client.flows.listFlows({ name: 'Invoice sync' })).data;
    expect(byName.flows.map((f) => f.id)).to.deep.equal([invoice]);
    expect(byName.total).to.equal(1);
    expect((await alice.client.flows.listFlows({ name: 'invoice sync' })).data.flows).to.deep.equal([]);
    const byText = (await alice.client.flows.listFlows({ q: 'invoice' })).data.flows.map((f) => f.id);
    expect(byText).to.have.members([invoice, other]);
    expect(byText).to.have.length(2);
    // LIKE's wildcards are literal text in q.
    expect((await alice.client.flows.listFlows({ q: '%' })).data.flows.map((f) => f.name)).to.deep.equal(['100%_done']);
    expect((await alice.client.flows.listFlows({ q: '_' })).data.total).to.equal(1);
  });

  it('shows node types with a display name and an output schema, in pages, by category (001)', async () => {
    const all = (await alice.client.nodeTypes.listNodeTypes()).data;
    expect(all.total).to.equal(all.node_types.length);
    expect(all).to.include({ limit: 100, offset: 0 });
    const http = all.node_types.find((t) => t.type === 'http.request')!;
    expect(http.display_name).to.equal('HTTP request');
    expect(http.output_schema).to.deep.include({ required: ['status_code', 'headers', 'body'] });
    for (const t of all.node_types) expect(t.display_name, t.type).to.be.a('string').and.not.equal('');
    const first = (await alice.client.nodeTypes.listNodeTypes({ limit: 2 })).data;
    const second = (await alice.client.nodeTypes.listNodeTypes({ limit: 2, offset: 2 })).data;
    expect([...first.node_types, ...second.node_types].map((t) => t.type)).to.deep.equal(
      all.node_types.slice(0, 4).map((t) => t.type),
    );
    const human = (await alice.client.nodeTypes.listNodeTypes({ category: 'human' })).data;
    expect(human.node_types.map((t) => t.type)).to.have.members(['approval', 'input']);
    expect(human.total).to.equal(2);
    expect((await alice.client.nodeTypes.getNodeType({ type: 'log' })).data.output_schema).to.have.property(
      'properties',
    );
  });

  it('pages node types by cursor like every other list, within a category too', async () => {
    const all = (await alice.client.nodeTypes.listNodeTypes()).data;
    expect(all.next_cursor).to.equal(null);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const data = (await alice.client.nodeTypes.listNodeTypes({ limit: 3, cursor })).data;
      seen.push(...data.node_types.map((t) => t.type));
      if (data.next_cursor === null) break;
      expect(data.node_types).to.have.length(3);
      cursor = data.next_cursor;
    }
    expect(seen).to.deep.equal(all.node_types.map((t) => t.type));
    const human = (await alice.client.nodeTypes.listNodeTypes({ category: 'human', limit: 1 })).data;
    const rest = (
      await alice.client.nodeTypes.listNodeTypes({ category: 'human', limit: 1, cursor: human.next_cursor! })
    ).data;
    expect([...human.node_types, ...rest.node_types].map((t) => t.type)).to.have.members(['approval', 'input']);
    expect(rest.next_cursor).to.equal(null);
    // A cursor of another category's page, or none this API made, is a 400 naming `cursor`.
    const integration = (await alice.client.nodeTypes.listNodeTypes({ category: 'integration', limit: 1 })).data;
    const foreign = await expectError(
      alice.client.nodeTypes.listNodeTypes({ category: 'human', cursor: integration.next_cursor! }),
      400,
      'invalid_request',
    );
    expect(foreign.details).to.include({ field: 'cursor' });
    await expectError(alice.client.nodeTypes.listNodeTypes({ cursor: 'nope' }), 400, 'invalid_request');
  });
});
