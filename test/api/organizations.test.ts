/**
 * Organizations (issue 16) through the generated client: the personal organization every account
 * has, a team's organization shared by members with roles, the last-owner rule, role changes that
 * take effect on the next request, the `organization` list filter, and API keys of one
 * organization whose role is capped at their creator's. (What each role may do on every operation
 * is test/api/authorization.test.ts.)
 */
import { expect } from 'chai';
import { apiClient, expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const FLOW = 'nodes:\n  start:\n    type: transform\n    params: {expression: "\'ok\'"}\n';

describe('organizations', function () {
  this.timeout(60_000);
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let carol: TestAccount;
  before(async () => {
    server = await startTestServer();
    alice = await makeAccount(server, { name: 'Alice' });
    bob = await makeAccount(server, { name: 'Bob' });
    carol = await makeAccount(server, { name: 'Carol' });
  });
  after(() => server.close());

  async function team(owner: TestAccount, name = 'Payments'): Promise<string> {
    const { status, data } = await owner.client.organizations.createOrganization({ organizationCreate: { name } });
    expect(status).to.equal(201);
    expect(data).to.include({ name, personal: false, role: 'owner', created_by: owner.account.id });
    return data.id;
  }

  it('gives every account a personal organization that holds what it creates by default', async () => {
    const { data } = await alice.client.organizations.listOrganizations();
    const personal = data.organizations.filter((o) => o.personal);
    expect(personal).to.have.length(1);
    expect(personal[0]).to.include({ role: 'owner', created_by: alice.account.id });
    const flow = (await alice.client.flows.getFlow({ id: await makeFlow(alice, FLOW) })).data;
    expect(flow.organization_id).to.equal(personal[0].id);
    const run = await alice.client.executions.runFlow({ id: flow.id, runFlowRequest: {} });
    expect((await waitForExecution(alice, run.data.execution_id)).organization_id).to.equal(personal[0].id);
    // A personal organization has no other members.
    await expectError(
      alice.client.organizations.addOrganizationMember({
        id: personal[0].id,
        organizationMemberAdd: { account_id: bob.account.id, role: 'viewer' },
      }),
      409,
      'conflict',
    );
    // Another account's personal organization is not found.
    await expectError(bob.client.organizations.getOrganization({ id: personal[0].id }), 404, 'not_found');
  });

  it('shares a team flow by role: an editor creates, a runner runs, a viewer reads', async () => {
    const org = await team(alice);
    await alice.client.organizations.addOrganizationMember({
      id: org,
      organizationMemberAdd: { email: bob.account.email, role: 'runner' },
    });
    const added = await alice.client.organizations.addOrganizationMember({
      id: org,
      organizationMemberAdd: { account_id: carol.account.id, role: 'viewer' },
    });
    expect(added.status).to.equal(201);
    expect(added.data).to.include({
      organization_id: org,
      account_id: carol.account.id,
      role: 'viewer',
      name: 'Carol',
    });
    await expectError(
      alice.client.organizations.addOrganizationMember({
        id: org,
        organizationMemberAdd: { account_id: carol.account.id, role: 'editor' },
      }),
      409,
      'conflict',
    );
    const members = (await carol.client.organizations.listOrganizationMembers({ id: org })).data;
    expect(members.total).to.equal(3);
    expect(members.members.map((m) => m.role)).to.have.members(['owner', 'runner', 'viewer']);

    const flow = (
      await alice.client.flows.createFlow({ flowCreate: { name: 'team flow', definition: FLOW, organization_id: org } })
    ).data;
    expect(flow).to.include({ organization_id: org, account_id: alice.account.id });
    // The runner runs it; the viewer reads it and its execution but may not run or change it.
    const run = (await bob.client.executions.runFlow({ id: flow.id, runFlowRequest: {} })).data;
    expect((await waitForExecution(carol, run.execution_id)).status).to.equal('completed');
    await expectError(carol.client.executions.runFlow({ id: flow.id, runFlowRequest: {} }), 403, 'forbidden');
    await expectError(bob.client.flows.updateFlow({ id: flow.id, flowUpdate: { description: 'x' } }), 403, 'forbidden');
    await expectError(
      bob.client.flows.createFlow({ flowCreate: { name: 'by a runner', definition: FLOW, organization_id: org } }),
      403,
      'forbidden',
    );
    // The list filter: the team's only, or everything the caller sees.
    const teamFlows = (await carol.client.flows.listFlows({ organization: org })).data;
    expect(teamFlows.flows.map((f) => f.id)).to.deep.equal([flow.id]);
    const carolsExecutions = (await carol.client.executions.listExecutions({ organization: org })).data;
    expect(carolsExecutions.executions.map((e) => e.id)).to.include(run.execution_id);
    // A stranger sees none of it.
    const dave = await makeAccount(server);
    await expectError(dave.client.flows.getFlow({ id: flow.id }), 404, 'not_found');
    await expectError(dave.client.flows.listFlows({ organization: org }), 404, 'not_found');
    expect((await dave.client.flows.listFlows()).data.flows.map((f) => f.id)).to.not.include(flow.id);
  });

  it('changes roles at once, never leaves an organization without an owner, and lets members leave', async () => {
    const org = await team(alice, 'Roles');
    await alice.client.organizations.addOrganizationMember({
      id: org,
      organizationMemberAdd: { account_id: bob.account.id, role: 'viewer' },
    });
    const flow = (
      await alice.client.flows.createFlow({
        flowCreate: { name: 'roles flow', definition: FLOW, organization_id: org },
      })
    ).data;
    await expectError(bob.client.executions.runFlow({ id: flow.id, runFlowRequest: {} }), 403, 'forbidden');
    // Only an owner changes roles.
    await expectError(
      bob.client.organizations.updateOrganizationMember({
        id: org,
        accountId: bob.account.id,
        organizationMemberUpdate: { role: 'owner' },
      }),
      403,
      'forbidden',
    );
    const changed = await alice.client.organizations.updateOrganizationMember({
      id: org,
      accountId: bob.account.id,
      organizationMemberUpdate: { role: 'runner' },
    });
    expect(changed.data.role).to.equal('runner');
    // The next request of the same token already has the new role.
    expect((await bob.client.executions.runFlow({ id: flow.id, runFlowRequest: {} })).status).to.be.oneOf([200, 202]);

    // The last owner can be neither demoted nor removed…
    await expectError(
      alice.client.organizations.updateOrganizationMember({
        id: org,
        accountId: alice.account.id,
        organizationMemberUpdate: { role: 'editor' },
      }),
      409,
      'conflict',
    );
    await expectError(
      alice.client.organizations.removeOrganizationMember({ id: org, accountId: alice.account.id }),
      409,
      'conflict',
    );
    // …until another member is an owner.
    await alice.client.organizations.updateOrganizationMember({
      id: org,
      accountId: bob.account.id,
      organizationMemberUpdate: { role: 'owner' },
    });
    await alice.client.organizations.updateOrganizationMember({
      id: org,
      accountId: alice.account.id,
      organizationMemberUpdate: { role: 'viewer' },
    });
    await expectError(
      alice.client.organizations.updateOrganization({ id: org, organizationUpdate: { name: 'x' } }),
      403,
      'forbidden',
    );
    const renamed = await bob.client.organizations.updateOrganization({
      id: org,
      organizationUpdate: { name: 'Renamed' },
    });
    expect(renamed.data).to.include({ name: 'Renamed', role: 'owner' });
    // A member may leave; what they created stays with the organization.
    await alice.client.organizations.removeOrganizationMember({ id: org, accountId: alice.account.id });
    await expectError(alice.client.flows.getFlow({ id: flow.id }), 404, 'not_found');
    await expectError(alice.client.organizations.getOrganization({ id: org }), 404, 'not_found');
    expect((await bob.client.flows.getFlow({ id: flow.id })).data.account_id).to.equal(alice.account.id);
    await expectError(
      bob.client.organizations.removeOrganizationMember({ id: org, accountId: alice.account.id }),
      404,
      'not_found',
    );
  });

  it('issues API keys of one organization with a role no higher than their creator’s', async () => {
    const org = await team(alice, 'Keys');
    await alice.client.organizations.addOrganizationMember({
      id: org,
      organizationMemberAdd: { account_id: bob.account.id, role: 'runner' },
    });
    const flow = (
      await alice.client.flows.createFlow({ flowCreate: { name: 'keys flow', definition: FLOW, organization_id: org } })
    ).data;
    // Above the creator's role: 403; in an organization the creator is no member of: 404.
    const err = await expectError(
      bob.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'too high', organization_id: org, role: 'editor' } }),
      403,
      'forbidden',
    );
    expect(err.details?.field).to.equal('role');
    const dave = await makeAccount(server);
    await expectError(
      dave.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'stranger', organization_id: org } }),
      404,
      'not_found',
    );
    await expectError(
      bob.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'no org', role: 'viewer' } }),
      422,
      'validation_error',
    );
    // A viewer key of a runner: reads the team's flows, may not run them, sees nothing else of Bob's.
    const viewerKey = (
      await bob.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'ci', organization_id: org, role: 'viewer' } })
    ).data;
    expect(viewerKey).to.include({ organization_id: org, role: 'viewer' });
    const asKey = apiClient(server.url, { apiKey: viewerKey.key });
    expect((await asKey.flows.getFlow({ id: flow.id })).data.id).to.equal(flow.id);
    await expectError(asKey.executions.runFlow({ id: flow.id, runFlowRequest: {} }), 403, 'forbidden');
    const bobsOwn = await makeFlow(bob, FLOW);
    await expectError(asKey.flows.getFlow({ id: bobsOwn }), 404, 'not_found');
    expect((await asKey.organizations.listOrganizations()).data.organizations.map((o) => o.id)).to.deep.equal([org]);
    // A key of one organization cannot make a key of all its creator's organizations.
    await expectError(asKey.apiKeys.createApiKey({ apiKeyCreate: { name: 'wider' } }), 403, 'forbidden');
    // A runner key (the creator's own role by default) runs it.
    const runnerKey = (await bob.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'run', organization_id: org } }))
      .data;
    expect(runnerKey.role).to.equal('runner');
    // Bob's keys, by organization: the team's two, then a personal one apart; a stranger's organization is 404.
    const personalKey = (await bob.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'mine' } })).data;
    const ofTeam = (await bob.client.apiKeys.listApiKeys({ organization: org })).data.api_keys.map((k) => k.id);
    expect(ofTeam.sort()).to.deep.equal([viewerKey.id, runnerKey.id].sort());
    const all = (await bob.client.apiKeys.listApiKeys()).data.api_keys.map((k) => k.id);
    expect(all).to.include.members([viewerKey.id, runnerKey.id, personalKey.id]);
    const strangers = (
      await dave.client.organizations.createOrganization({ organizationCreate: { name: 'Dave & co' } })
    ).data.id;
    await expectError(bob.client.apiKeys.listApiKeys({ organization: strangers }), 404, 'not_found');
    const asRunner = apiClient(server.url, { apiKey: runnerKey.key });
    expect((await asRunner.executions.runFlow({ id: flow.id, runFlowRequest: {} })).status).to.be.oneOf([200, 202]);
    // When the creator's role drops, the key's does too (never above its creator's present role).
    await alice.client.organizations.updateOrganizationMember({
      id: org,
      accountId: bob.account.id,
      organizationMemberUpdate: { role: 'viewer' },
    });
    await expectError(asRunner.executions.runFlow({ id: flow.id, runFlowRequest: {} }), 403, 'forbidden');
    // And when the creator leaves, the key sees nothing of the organization.
    await alice.client.organizations.removeOrganizationMember({ id: org, accountId: bob.account.id });
    await expectError(asRunner.flows.getFlow({ id: flow.id }), 404, 'not_found');
  });

  it('keeps per-execution sharing working across organizations', async () => {
    const org = await team(alice, 'Sharing');
    const flow = (
      await alice.client.flows.createFlow({
        flowCreate: {
          name: 'shared flow',
          organization_id: org,
          definition: 'nodes:\n  start:\n    type: input\n    params: {outcomes: [{name: ok}]}\n',
        },
      })
    ).data;
    const id = (await alice.client.executions.runFlow({ id: flow.id, runFlowRequest: {} })).data.execution_id;
    await waitForExecution(alice, id, ['waiting']);
    await expectError(carol.client.executions.getExecution({ id }), 404, 'not_found');
    await alice.client.sharing.shareExecution({ id, shareCreate: { account_id: carol.account.id } });
    expect((await carol.client.executions.getExecution({ id })).data.id).to.equal(id);
    expect((await carol.client.executions.listExecutions()).data.executions.map((e) => e.id)).to.include(id);
    // Shared, not a member: answers its wait, but neither cancels it nor sees the flow.
    await expectError(carol.client.executions.cancelExecution({ id }), 403, 'forbidden');
    await expectError(carol.client.flows.getFlow({ id: flow.id }), 404, 'not_found');
    await carol.client.hitl.signalExecution({ id, signal: { node_id: 'start', outcome: 'ok' } });
    expect((await waitForExecution(alice, id)).status).to.equal('completed');
  });
});
