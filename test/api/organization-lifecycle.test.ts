/**
 * An organization's lifecycle (issue 16) through the generated client: invitations (sent by
 * editors and owners with a role up to their own, seen and answered by the account with the
 * invited email, expiring, single-use, revocable), deleting a team's organization with everything
 * in it, and deleting an account whose objects in teams' organizations belong to the team.
 */
import { expect } from 'chai';
import { apiClient, expectError } from '../support/client';
import { makeAccount, makeFlow, runToEnd, uniqueEmail, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const FLOW = 'nodes:\n  start:\n    type: transform\n    params: {expression: "\'ok\'"}\n';
const WAIT_FLOW = 'nodes:\n  start:\n    type: input\n    params: {outcomes: [{name: ok}]}\n';

describe('organization lifecycle', function () {
  this.timeout(60_000);
  let server: TestServer;
  let admin: TestAccount;
  before(async () => {
    server = await startTestServer();
    admin = await makeAccount(server, { role: 'admin' });
  });
  after(() => server.close());

  async function team(owner: TestAccount, name = 'Team'): Promise<string> {
    return (await owner.client.organizations.createOrganization({ organizationCreate: { name } })).data.id;
  }

  async function invite(by: TestAccount, org: string, email: string, role: 'owner' | 'editor' | 'runner' | 'viewer') {
    const { status, data } = await by.client.organizations.createOrganizationInvitation({
      id: org,
      organizationInvitationCreate: { email, role },
    });
    expect(status).to.equal(201);
    return data;
  }

  async function add(
    owner: TestAccount,
    org: string,
    who: TestAccount,
    role: 'owner' | 'editor' | 'runner' | 'viewer',
  ) {
    await owner.client.organizations.addOrganizationMember({
      id: org,
      organizationMemberAdd: { account_id: who.account.id, role },
    });
  }

  async function reason(call: Promise<unknown>, status: number, code: string): Promise<unknown> {
    return (await expectError(call, status, code)).details?.reason;
  }

  describe('invitations', () => {
    it('invites an email; its account sees the invitation, accepts it once and is a member at once', async () => {
      const alice = await makeAccount(server, { name: 'Alice' });
      const grace = await makeAccount(server, { name: 'Grace' });
      const bob = await makeAccount(server);
      const org = await team(alice, 'Payments');
      // Upper case in the invitation, lower case in the account: the same email.
      const inv = await invite(alice, org, grace.account.email.toUpperCase(), 'editor');
      expect(inv).to.include({
        organization_id: org,
        organization_name: 'Payments',
        role: 'editor',
        status: 'pending',
        invited_by: alice.account.id,
        invited_by_email: alice.account.email,
        responded_at: null,
      });
      const days = (Date.parse(inv.expires_at) - Date.parse(inv.created_at)) / 86_400_000;
      expect(days).to.be.closeTo(7, 0.01);

      const pending = (await alice.client.organizations.listOrganizationInvitations({ id: org })).data;
      expect(pending.invitations.map((i) => i.id)).to.deep.equal([inv.id]);
      expect(pending.total).to.equal(1);
      const mine = (await grace.client.organizations.listMyInvitations()).data;
      expect(mine.invitations.map((i) => i.id)).to.deep.equal([inv.id]);
      expect((await bob.client.organizations.listMyInvitations()).data.invitations).to.deep.equal([]);

      // Not the invitee: not found, whether accepting or declining.
      await expectError(bob.client.organizations.acceptInvitation({ id: inv.id }), 404, 'not_found');
      await expectError(bob.client.organizations.declineInvitation({ id: inv.id }), 404, 'not_found');
      await expectError(grace.client.organizations.getOrganization({ id: org }), 404, 'not_found');

      const accepted = await grace.client.organizations.acceptInvitation({ id: inv.id });
      expect(accepted.status).to.equal(200);
      expect(accepted.data).to.include({ organization_id: org, account_id: grace.account.id, role: 'editor' });
      // The same token acts as a member on its next request.
      expect((await grace.client.organizations.getOrganization({ id: org })).data.role).to.equal('editor');
      const flow = await grace.client.flows.createFlow({
        flowCreate: { name: 'by an invitee', definition: FLOW, organization_id: org },
      });
      expect(flow.data.organization_id).to.equal(org);

      // Single use; gone from both lists; inviting a member is 409.
      expect(await reason(grace.client.organizations.acceptInvitation({ id: inv.id }), 409, 'conflict')).to.equal(
        'accepted',
      );
      expect(await reason(grace.client.organizations.declineInvitation({ id: inv.id }), 409, 'conflict')).to.equal(
        'accepted',
      );
      expect((await alice.client.organizations.listOrganizationInvitations({ id: org })).data.total).to.equal(0);
      expect((await grace.client.organizations.listMyInvitations()).data.total).to.equal(0);
      expect(
        await reason(
          alice.client.organizations.createOrganizationInvitation({
            id: org,
            organizationInvitationCreate: { email: grace.account.email, role: 'viewer' },
          }),
          409,
          'conflict',
        ),
      ).to.equal('already a member');
    });

    it('waits for an account that does not exist yet, and refuses a second pending invitation', async () => {
      const alice = await makeAccount(server);
      const org = await team(alice);
      const email = uniqueEmail('later');
      const inv = await invite(alice, org, email, 'runner');
      expect(
        await reason(
          alice.client.organizations.createOrganizationInvitation({
            id: org,
            organizationInvitationCreate: { email, role: 'viewer' },
          }),
          409,
          'conflict',
        ),
      ).to.equal('already invited');
      const later = await makeAccount(server, { email });
      // A key of one organization sees and answers no invitations into others.
      const personal = (await later.client.organizations.listOrganizations()).data.organizations[0].id;
      const key = (await later.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'k', organization_id: personal } }))
        .data.key;
      const asKey = apiClient(server.url, { apiKey: key });
      await expectError(asKey.organizations.listMyInvitations(), 403, 'forbidden');
      await expectError(asKey.organizations.acceptInvitation({ id: inv.id }), 403, 'forbidden');
      expect((await later.client.organizations.listMyInvitations()).data.invitations.map((i) => i.id)).to.deep.equal([
        inv.id,
      ]);
      expect((await later.client.organizations.acceptInvitation({ id: inv.id })).data.role).to.equal('runner');
    });

    it('can no longer be accepted once declined, revoked or expired', async () => {
      const alice = await makeAccount(server);
      const grace = await makeAccount(server);
      const org = await team(alice);

      const declined = await invite(alice, org, grace.account.email, 'viewer');
      const answer = await grace.client.organizations.declineInvitation({ id: declined.id });
      expect(answer.data.status).to.equal('declined');
      expect(answer.data.responded_at).to.be.a('string');
      expect(await reason(grace.client.organizations.acceptInvitation({ id: declined.id }), 409, 'conflict')).to.equal(
        'declined',
      );

      const revoked = await invite(alice, org, grace.account.email, 'viewer');
      const r = await alice.client.organizations.revokeOrganizationInvitation({ id: org, invitationId: revoked.id });
      expect(r.status).to.equal(200);
      expect(await reason(grace.client.organizations.acceptInvitation({ id: revoked.id }), 409, 'conflict')).to.equal(
        'revoked',
      );
      expect(
        await reason(
          alice.client.organizations.revokeOrganizationInvitation({ id: org, invitationId: revoked.id }),
          409,
          'conflict',
        ),
      ).to.equal('revoked');
      await expectError(grace.client.organizations.getOrganization({ id: org }), 404, 'not_found');

      // Seven days later (moved in the database: nobody waits a week).
      const expired = await invite(alice, org, grace.account.email, 'viewer');
      await server
        .db('organization_invitations')
        .where({ id: expired.id })
        .update({
          created_at: new Date(Date.now() - 8 * 86_400_000),
          expires_at: new Date(Date.now() - 86_400_000),
        });
      expect((await grace.client.organizations.listMyInvitations()).data.total).to.equal(0);
      const listed = (await alice.client.organizations.listOrganizationInvitations({ id: org })).data.invitations;
      expect(listed.map((i) => [i.id, i.status])).to.deep.equal([[expired.id, 'expired']]);
      expect(await reason(grace.client.organizations.acceptInvitation({ id: expired.id }), 409, 'conflict')).to.equal(
        'expired',
      );
      await expectError(grace.client.organizations.getOrganization({ id: org }), 404, 'not_found');
      // A new invitation replaces the expired one.
      const renewed = await invite(alice, org, grace.account.email, 'viewer');
      expect(
        (await alice.client.organizations.listOrganizationInvitations({ id: org })).data.invitations.map((i) => i.id),
      ).to.deep.equal([renewed.id]);
      expect((await grace.client.organizations.acceptInvitation({ id: renewed.id })).data.role).to.equal('viewer');
    });

    it('lets editors invite and revoke up to their own role; runners, viewers and strangers not', async () => {
      const alice = await makeAccount(server);
      const editor = await makeAccount(server);
      const runner = await makeAccount(server);
      const stranger = await makeAccount(server);
      const org = await team(alice);
      await add(alice, org, editor, 'editor');
      await add(alice, org, runner, 'runner');

      const high = await expectError(
        editor.client.organizations.createOrganizationInvitation({
          id: org,
          organizationInvitationCreate: { email: uniqueEmail(), role: 'owner' },
        }),
        403,
        'forbidden',
      );
      expect(high.details?.field).to.equal('role');
      const ok = await invite(editor, org, uniqueEmail(), 'editor');
      expect(ok.invited_by).to.equal(editor.account.id);
      await expectError(
        runner.client.organizations.createOrganizationInvitation({
          id: org,
          organizationInvitationCreate: { email: uniqueEmail(), role: 'viewer' },
        }),
        403,
        'forbidden',
      );
      await expectError(runner.client.organizations.listOrganizationInvitations({ id: org }), 403, 'forbidden');
      await expectError(
        stranger.client.organizations.createOrganizationInvitation({
          id: org,
          organizationInvitationCreate: { email: uniqueEmail(), role: 'viewer' },
        }),
        404,
        'not_found',
      );
      await expectError(stranger.client.organizations.listOrganizationInvitations({ id: org }), 404, 'not_found');

      // An owner's invitation of an owner is beyond an editor to revoke; the editor's own is not.
      const ownerInvite = await invite(alice, org, uniqueEmail(), 'owner');
      await expectError(
        editor.client.organizations.revokeOrganizationInvitation({ id: org, invitationId: ownerInvite.id }),
        403,
        'forbidden',
      );
      await editor.client.organizations.revokeOrganizationInvitation({ id: org, invitationId: ok.id });
      // An invitation of another organization is not found through this one.
      const other = await team(alice, 'Other');
      await expectError(
        alice.client.organizations.revokeOrganizationInvitation({ id: other, invitationId: ownerInvite.id }),
        404,
        'not_found',
      );

      // A personal organization has no other members; an email must look like one.
      const personal = (await alice.client.organizations.listOrganizations()).data.organizations.find(
        (o) => o.personal,
      )!;
      expect(
        await reason(
          alice.client.organizations.createOrganizationInvitation({
            id: personal.id,
            organizationInvitationCreate: { email: uniqueEmail(), role: 'viewer' },
          }),
          409,
          'conflict',
        ),
      ).to.equal('personal organization');
      await expectError(
        alice.client.organizations.createOrganizationInvitation({
          id: org,
          organizationInvitationCreate: { email: 'not-an-email', role: 'viewer' },
        }),
        422,
        'validation_error',
      );
    });
  });

  describe('deleting an organization', () => {
    it('is for owners; takes everything in it, and its members lose access at once', async () => {
      const alice = await makeAccount(server);
      const bob = await makeAccount(server);
      const stranger = await makeAccount(server);
      const org = await team(alice, 'Doomed');
      await add(alice, org, bob, 'editor');
      const flow = (
        await alice.client.flows.createFlow({ flowCreate: { name: 'doomed', definition: FLOW, organization_id: org } })
      ).data.id;
      const waitFlow = (
        await alice.client.flows.createFlow({
          flowCreate: { name: 'doomed wait', definition: WAIT_FLOW, organization_id: org },
        })
      ).data.id;
      const done = (await runToEnd(alice, flow)).id;
      // Read through the cache of finished executions, by a member and by an admin.
      expect((await bob.client.executions.getExecution({ id: done })).data.status).to.equal('completed');
      expect((await admin.client.executions.getExecution({ id: done })).data.status).to.equal('completed');
      const waiting = (await alice.client.executions.runFlow({ id: waitFlow, runFlowRequest: {} })).data.execution_id;
      await waitForExecution(alice, waiting, ['waiting']);
      const schedule = (
        await alice.client.schedules.createSchedule({ scheduleCreate: { flow_id: flow, interval_seconds: 3600 } })
      ).data.id;
      await alice.client.webhooks.createWebhook({ id: flow, webhookCreate: {} });
      const connection = (
        await alice.client.connections.createConnection({
          connectionCreate: { name: 'c', type: 'bearer', bearer: { token: 't' }, organization_id: org },
        })
      ).data.id;
      const file = (
        await alice.client.files.uploadFile(
          { body: Buffer.from('{"n":1}'), name: 'n.json', organizationId: org },
          { headers: { 'Content-Type': 'application/json' } },
        )
      ).data.id;
      const key = (
        await alice.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'team key', organization_id: org } })
      ).data;
      const asKey = apiClient(server.url, { apiKey: key.key });
      expect((await asKey.flows.getFlow({ id: flow })).data.id).to.equal(flow);
      const invitee = await makeAccount(server);
      const inv = await invite(alice, org, invitee.account.email, 'viewer');

      await expectError(bob.client.organizations.deleteOrganization({ id: org }), 403, 'forbidden');
      await expectError(stranger.client.organizations.deleteOrganization({ id: org }), 404, 'not_found');
      const personal = (await alice.client.organizations.listOrganizations()).data.organizations.find(
        (o) => o.personal,
      )!;
      expect(
        await reason(alice.client.organizations.deleteOrganization({ id: personal.id }), 409, 'conflict'),
      ).to.equal('personal organization');

      expect((await alice.client.organizations.deleteOrganization({ id: org })).status).to.equal(200);
      for (const who of [alice, bob, admin]) {
        await expectError(who.client.organizations.getOrganization({ id: org }), 404, 'not_found');
        await expectError(who.client.flows.getFlow({ id: flow }), 404, 'not_found');
        await expectError(who.client.executions.getExecution({ id: done }), 404, 'not_found');
        await expectError(who.client.executions.getExecution({ id: waiting }), 404, 'not_found');
        await expectError(who.client.schedules.getSchedule({ id: schedule }), 404, 'not_found');
        await expectError(who.client.connections.getConnection({ id: connection }), 404, 'not_found');
        await expectError(who.client.files.getFile({ id: file }), 404, 'not_found');
      }
      expect((await bob.client.organizations.listOrganizations()).data.organizations.map((o) => o.id)).to.not.include(
        org,
      );
      // Its keys went with it; its invitations too.
      await expectError(asKey.flows.listFlows(), 401, 'unauthorized');
      await expectError(invitee.client.organizations.acceptInvitation({ id: inv.id }), 404, 'not_found');
      // Alice's own organization is untouched.
      expect((await alice.client.organizations.getOrganization({ id: personal.id })).data.personal).to.equal(true);
    });
  });

  describe('deleting an account', () => {
    it("keeps what it made in a team's organization, handed to an owner, and takes its personal one", async () => {
      const alice = await makeAccount(server);
      const bob = await makeAccount(server);
      const org = await team(alice, 'Keeps');
      const left = await team(alice, 'Left');
      await add(alice, org, bob, 'editor');
      await add(alice, left, bob, 'editor');
      const teamFlow = (
        await bob.client.flows.createFlow({ flowCreate: { name: 'team', definition: FLOW, organization_id: org } })
      ).data.id;
      const teamRun = (await runToEnd(bob, teamFlow)).id;
      await bob.client.secrets.putOrganizationSecret({
        organizationSecretWrite: { organization_id: org, key: 'TEAM_TOKEN', value: 'kept-by-the-team' },
      });
      const usesSecret = (
        await alice.client.flows.createFlow({
          flowCreate: {
            name: 'uses the secret',
            definition: `nodes:\n  start:\n    type: transform\n    params: {expression: "secrets.TEAM_TOKEN = 'kept-by-the-team'"}\n`,
            organization_id: org,
          },
        })
      ).data.id;
      const schedule = (
        await bob.client.schedules.createSchedule({ scheduleCreate: { flow_id: teamFlow, interval_seconds: 3600 } })
      ).data.id;
      const leftFlow = (
        await bob.client.flows.createFlow({ flowCreate: { name: 'left', definition: FLOW, organization_id: left } })
      ).data.id;
      await bob.client.organizations.removeOrganizationMember({ id: left, accountId: bob.account.id });
      const personalFlow = await makeFlow(bob, FLOW);
      const personalRun = (await runToEnd(bob, personalFlow)).id;
      // Bob alone in a team: it goes with him.
      const alone = await team(bob, 'Alone');

      expect((await admin.client.accounts.deleteAccount({ id: bob.account.id })).status).to.equal(200);

      const flow = (await alice.client.flows.getFlow({ id: teamFlow })).data;
      expect(flow.organization_id).to.equal(org);
      expect(flow.account_id).to.equal(alice.account.id);
      expect(flow.created_by).to.deep.equal({ id: bob.account.id, email: null });
      const run = (await alice.client.executions.getExecution({ id: teamRun })).data;
      expect(run).to.include({ status: 'completed', account_id: alice.account.id });
      expect(run.started_by?.id).to.equal(bob.account.id);
      expect((await alice.client.schedules.getSchedule({ id: schedule })).data.id).to.equal(schedule);
      expect((await alice.client.flows.getFlow({ id: leftFlow })).data.account_id).to.equal(alice.account.id);
      // The team's flow still runs, and the secret Bob set is still the team's and still opens.
      expect((await runToEnd(alice, teamFlow)).status).to.equal('completed');
      const secrets = (await alice.client.secrets.listOrganizationSecrets({ organization: org })).data.secrets;
      expect(secrets.map((x) => x.key)).to.deep.equal(['TEAM_TOKEN']);
      expect(await runToEnd(alice, usesSecret)).to.include({ status: 'completed', result: true });
      const members = (await alice.client.organizations.listOrganizationMembers({ id: org })).data.members;
      expect(members.map((m) => m.account_id)).to.deep.equal([alice.account.id]);

      await expectError(admin.client.flows.getFlow({ id: personalFlow }), 404, 'not_found');
      await expectError(admin.client.executions.getExecution({ id: personalRun }), 404, 'not_found');
      await expectError(admin.client.organizations.getOrganization({ id: alone }), 404, 'not_found');
    });

    it('refuses to delete the last owner of a team with other members until another is owner', async () => {
      const dave = await makeAccount(server);
      const erin = await makeAccount(server);
      const org = await team(dave, 'Owned');
      await add(dave, org, erin, 'viewer');
      const flow = (
        await dave.client.flows.createFlow({ flowCreate: { name: 'daves', definition: FLOW, organization_id: org } })
      ).data.id;
      const refused = await expectError(admin.client.accounts.deleteAccount({ id: dave.account.id }), 409, 'conflict');
      expect(refused.details).to.include({ reason: 'last owner', organization_id: org });
      expect(refused.message).to.match(/owner first/);
      // Nothing was deleted.
      expect((await dave.client.flows.getFlow({ id: flow })).data.id).to.equal(flow);

      await dave.client.organizations.updateOrganizationMember({
        id: org,
        accountId: erin.account.id,
        organizationMemberUpdate: { role: 'owner' },
      });
      await admin.client.accounts.deleteAccount({ id: dave.account.id });
      const kept = (await erin.client.flows.getFlow({ id: flow })).data;
      expect(kept.account_id).to.equal(erin.account.id);
      expect((await erin.client.organizations.getOrganization({ id: org })).data.role).to.equal('owner');
    });
  });
});
