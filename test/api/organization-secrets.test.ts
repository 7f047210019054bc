/**
 * Issue 16: secrets (and connections) are an organization's. A team's editors set them, every
 * member sees their keys, the team's executions read them whoever starts them, and no other
 * organization's flow or member reaches them. Names of secrets, flows and connections are unique
 * per organization.
 */
import { expect } from 'chai';
import { expectError } from '../support/client';
import { makeAccount, runToEnd, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';
import { personalOrganizationId } from '../../src/services/ownership';

const TEAM_VALUE = 'team-value-0123456789';
const OTHER_VALUE = 'other-value-9876543210';

/** Says whether `secrets.TOKEN` is `value` (a boolean survives masking) and echoes it (masked). */
const readsToken = (value: string) =>
  `nodes:\n  start:\n    type: transform\n    params: {expression: "{'matches': secrets.TOKEN = '${value}', 'has': $exists(secrets.TOKEN), 'echo': secrets.TOKEN}"}\n`;

describe('organization secrets', () => {
  let server: TestServer;
  let target: Target;
  /** Owner of the team. */
  let alice: TestAccount;
  let editor: TestAccount;
  let runner: TestAccount;
  let viewer: TestAccount;
  /** Owner of another team. */
  let bob: TestAccount;
  let team: string;
  let otherTeam: string;

  async function organization(owner: TestAccount, name: string): Promise<string> {
    return (await owner.client.organizations.createOrganization({ organizationCreate: { name } })).data.id;
  }

  async function flowIn(owner: TestAccount, organizationId: string, definition: string, name?: string) {
    return (
      await owner.client.flows.createFlow({
        flowCreate: {
          name: name ?? `flow-${Math.random().toString(36).slice(2)}`,
          definition,
          organization_id: organizationId,
        },
      })
    ).data.id;
  }

  before(async () => {
    target = await startTarget();
    target.route('/echo', (req, _body, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
    });
    server = await startTestServer();
    alice = await makeAccount(server);
    editor = await makeAccount(server);
    runner = await makeAccount(server);
    viewer = await makeAccount(server);
    bob = await makeAccount(server);
    team = await organization(alice, 'Payments');
    otherTeam = await organization(bob, 'Elsewhere');
    for (const [member, role] of [
      [editor, 'editor'],
      [runner, 'runner'],
      [viewer, 'viewer'],
    ] as const)
      await alice.client.organizations.addOrganizationMember({
        id: team,
        organizationMemberAdd: { account_id: member.account.id, role },
      });
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  it("an editor sets the team's secret; every member sees its key, only editors and owners change it", async () => {
    const created = await editor.client.secrets.putOrganizationSecret({
      organizationSecretWrite: { organization_id: team, key: 'TOKEN', value: TEAM_VALUE },
    });
    expect(created.status).to.equal(201);
    expect(created.data).to.have.keys('organization_id', 'key', 'created_at', 'updated_at');
    expect(created.data).to.include({ organization_id: team, key: 'TOKEN' });

    for (const member of [alice, editor, runner, viewer]) {
      const { data } = await member.client.secrets.listOrganizationSecrets({ organization: team });
      expect(data.secrets.map((s) => [s.organization_id, s.key])).to.deep.equal([[team, 'TOKEN']]);
      expect(JSON.stringify(data)).not.to.contain(TEAM_VALUE);
    }
    // Without a filter: every organization of the caller's, the team's among them.
    const all = (await viewer.client.secrets.listOrganizationSecrets()).data.secrets;
    expect(all.filter((s) => s.organization_id === team).map((s) => s.key)).to.deep.equal(['TOKEN']);

    for (const [member, role] of [
      [viewer, 'viewer'],
      [runner, 'runner'],
    ] as const) {
      const err = await expectError(
        member.client.secrets.putOrganizationSecret({
          organizationSecretWrite: { organization_id: team, key: 'TOKEN', value: 'overwritten' },
        }),
        403,
        'forbidden',
      );
      expect(err.details).to.include({ organization_id: team, role, required_role: 'editor' });
      await expectError(
        member.client.secrets.deleteOrganizationSecret({ key: 'TOKEN', organizationId: team }),
        403,
        'forbidden',
      );
    }

    // The owner replaces the editor's secret (one key per organization): 200, the same secret.
    const replaced = await alice.client.secrets.putOrganizationSecret({
      organizationSecretWrite: { organization_id: team, key: 'TOKEN', value: TEAM_VALUE },
    });
    expect(replaced.status).to.equal(200);
    expect(replaced.data.created_at).to.equal(created.data.created_at);
    const rows = await server.db('secrets').where({ organization_id: team, key: 'TOKEN' });
    expect(rows).to.have.length(1);
    expect(rows[0].account_id).to.equal(editor.account.id);
  });

  it("a runner's execution of a team flow reads the team's secret, masked in what it shows", async () => {
    const flowId = await flowIn(editor, team, readsToken(TEAM_VALUE));
    const done = await runToEnd(runner, flowId);
    expect(done.status).to.equal('completed');
    expect(done.result).to.deep.equal({ matches: true, has: true, echo: '***' });
    const steps = (await viewer.client.executions.getExecutionSteps({ id: done.id })).data;
    expect(JSON.stringify(steps)).not.to.contain(TEAM_VALUE);
  });

  it("a foreach's iterations run in their parent's organization, with its secrets", async () => {
    const flowId = await flowIn(
      editor,
      team,
      `nodes:\n  start:\n    type: foreach\n    params: {items: [1, 2], concurrency: 1}\n    next: {each: check}\n  check:\n    type: transform\n    params: {expression: "secrets.TOKEN = '${TEAM_VALUE}'"}\n`,
    );
    const done = await runToEnd(runner, flowId);
    expect(done.status, done.error ?? '').to.equal('completed');
    expect(done.result).to.deep.equal({ results: [true, true], errors: [] });
    const children = await server.db('executions').where({ parent_execution_id: done.id }).select('organization_id');
    expect(children.map((c) => c.organization_id)).to.deep.equal([team, team]);
  });

  it("another organization's member sees none of it (404), and its flows cannot read it", async () => {
    await expectError(bob.client.secrets.listOrganizationSecrets({ organization: team }), 404, 'not_found');
    await expectError(
      bob.client.secrets.putOrganizationSecret({
        organizationSecretWrite: { organization_id: team, key: 'TOKEN', value: 'evil' },
      }),
      404,
      'not_found',
    );
    await expectError(
      bob.client.secrets.deleteOrganizationSecret({ key: 'TOKEN', organizationId: team }),
      404,
      'not_found',
    );
    const bobs = (await bob.client.secrets.listOrganizationSecrets()).data.secrets;
    expect(bobs.map((s) => s.organization_id)).not.to.include(team);

    // Bob's team has no TOKEN: his flow reads nothing of Payments'.
    const bobsFlow = await flowIn(bob, otherTeam, readsToken(TEAM_VALUE));
    expect((await runToEnd(bob, bobsFlow)).result).to.deep.equal({ matches: false, has: false });

    // The same key in two organizations: each flow reads its own organization's.
    const own = await bob.client.secrets.putOrganizationSecret({
      organizationSecretWrite: { organization_id: otherTeam, key: 'TOKEN', value: OTHER_VALUE },
    });
    expect(own.status).to.equal(201);
    const bobsReader = await flowIn(bob, otherTeam, readsToken(OTHER_VALUE));
    expect((await runToEnd(bob, bobsReader)).result).to.deep.equal({ matches: true, has: true, echo: '***' });
    const teamReader = await flowIn(editor, team, readsToken(TEAM_VALUE));
    expect((await runToEnd(runner, teamReader)).result).to.include({ matches: true });
    expect((await alice.client.secrets.listOrganizationSecrets({ organization: team })).data.secrets).to.have.length(1);
  });

  it("a personal flow reads its account's secrets as before, and a team's flow does not", async () => {
    await alice.client.secrets.putSecret({
      accountId: alice.account.id,
      secretWrite: { key: 'PERSONAL', value: 'personal-value-42' },
    });
    // The account's secrets are its personal organization's.
    const mine = (
      await alice.client.secrets.listOrganizationSecrets({ organization: personalOrganizationId(alice.account.id) })
    ).data.secrets;
    expect(mine.map((s) => s.key)).to.deep.equal(['PERSONAL']);
    const reads = `nodes:\n  start:\n    type: transform\n    params: {expression: "secrets.PERSONAL = 'personal-value-42'"}\n`;
    const personalFlow = (
      await alice.client.flows.createFlow({ flowCreate: { name: 'personal-reader', definition: reads } })
    ).data.id;
    expect((await runToEnd(alice, personalFlow)).result).to.equal(true);
    const teamFlow = await flowIn(alice, team, reads);
    expect((await runToEnd(alice, teamFlow)).result).to.equal(false);
    // Made without organization_id, a secret goes into the caller's personal organization.
    const made = await alice.client.secrets.putOrganizationSecret({
      organizationSecretWrite: { key: 'DEFAULTED', value: 'd' },
    });
    expect(made.data.organization_id).to.equal(personalOrganizationId(alice.account.id));
    await alice.client.secrets.deleteOrganizationSecret({ key: 'DEFAULTED' });
    await expectError(alice.client.secrets.deleteOrganizationSecret({ key: 'DEFAULTED' }), 404, 'not_found');
  });

  it('names are unique per organization: flows and connections (409), and two organizations may share one', async () => {
    const log = 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n';
    await flowIn(alice, team, log, 'billing');
    const flowErr = await expectError(
      editor.client.flows.createFlow({ flowCreate: { name: 'billing', definition: log, organization_id: team } }),
      409,
      'conflict',
    );
    expect(flowErr.details?.field).to.equal('name');
    await flowIn(bob, otherTeam, log, 'billing');
    // The editor's personal organization is another organization too.
    await editor.client.flows.createFlow({ flowCreate: { name: 'billing', definition: log } });

    const bearer = (organization_id?: string) => ({
      connectionCreate: { name: 'crm', type: 'bearer' as const, bearer: { token: 't' }, organization_id },
    });
    await alice.client.connections.createConnection(bearer(team));
    await expectError(editor.client.connections.createConnection(bearer(team)), 409, 'conflict');
    expect((await bob.client.connections.createConnection(bearer(otherTeam))).status).to.equal(201);
    expect((await editor.client.connections.createConnection(bearer())).status).to.equal(201);
  });

  it("an execution uses its organization's connection, whoever created it and whoever runs it", async () => {
    const BEARER = 'team-bearer-token-0123456789';
    await editor.client.connections.createConnection({
      connectionCreate: { name: 'echo', type: 'bearer', bearer: { token: BEARER }, organization_id: team },
    });
    const callFlow = `nodes:\n  call:\n    type: http.request\n    params:\n      url: "${target.url}/echo"\n      connection: echo\n`;
    const teamFlow = await flowIn(alice, team, callFlow);
    const done = await runToEnd(runner, teamFlow);
    expect(done.status).to.equal('completed');
    expect(target.hits.at(-1)!.headers.authorization).to.equal(`Bearer ${BEARER}`);
    expect((done.result as { body: { authorization: string } }).body.authorization).to.equal('Bearer ***');
    // Bob's organization has no connection "echo": his flow's step fails saying so.
    const bobsFlow = await flowIn(bob, otherTeam, callFlow);
    const failed = await runToEnd(bob, bobsFlow);
    expect(failed.status).to.equal('failed');
    expect(failed.error).to.contain('connection "echo" not found');
  });
});
