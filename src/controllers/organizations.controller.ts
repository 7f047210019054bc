/** Organizations and their members (issue 16). */
import type { Handlers } from '../http/operations';
import { toOrganization, toOrganizationInvitation, toOrganizationMember } from '../presenters/organizations.presenter';
import type { Services } from '../services';
import { message } from './replies';

export function organizationHandlers(s: Services): Handlers {
  return {
    listOrganizations: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.organizations.list(actor, { limit, offset });
      return { status: 200, body: { organizations: rows.map(toOrganization), total, limit, offset } };
    },
    createOrganization: async ({ actor, body }) => ({
      status: 201,
      body: toOrganization(await s.organizations.create(actor, body.name)),
    }),
    getOrganization: async ({ actor, params }) => ({
      status: 200,
      body: toOrganization(await s.organizations.get(actor, params.id)),
    }),
    updateOrganization: async ({ actor, params, body }) => ({
      status: 200,
      body: toOrganization(await s.organizations.update(actor, params.id, body.name)),
    }),
    listOrganizationMembers: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.organizations.members(actor, params.id, limit, offset);
      return { status: 200, body: { members: rows.map(toOrganizationMember), total, limit, offset } };
    },
    addOrganizationMember: async ({ actor, params, body }) => ({
      status: 201,
      body: toOrganizationMember(
        await s.organizations.addMember(
          actor,
          params.id,
          { account_id: body.account_id, email: body.email },
          body.role,
        ),
      ),
    }),
    updateOrganizationMember: async ({ actor, params, body }) => ({
      status: 200,
      body: toOrganizationMember(await s.organizations.updateMember(actor, params.id, params.account_id, body.role)),
    }),
    removeOrganizationMember: async ({ actor, params }) => {
      await s.organizations.removeMember(actor, params.id, params.account_id);
      return message('Member removed');
    },
    deleteOrganization: async ({ actor, params }) => {
      await s.organizations.delete(actor, params.id);
      return message('Organization deleted');
    },
    listOrganizationInvitations: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.invitations.list(actor, params.id, { limit, offset });
      return { status: 200, body: { invitations: rows.map(toOrganizationInvitation), total, limit, offset } };
    },
    createOrganizationInvitation: async ({ actor, params, body }) => ({
      status: 201,
      body: toOrganizationInvitation(await s.invitations.create(actor, params.id, body.email, body.role)),
    }),
    revokeOrganizationInvitation: async ({ actor, params }) => {
      await s.invitations.revoke(actor, params.id, params.invitation_id);
      return message('Invitation revoked');
    },
    listMyInvitations: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.invitations.mine(actor, { limit, offset });
      return { status: 200, body: { invitations: rows.map(toOrganizationInvitation), total, limit, offset } };
    },
    acceptInvitation: async ({ actor, params }) => ({
      status: 200,
      body: toOrganizationMember(await s.invitations.accept(actor, params.id)),
    }),
    declineInvitation: async ({ actor, params }) => ({
      status: 200,
      body: toOrganizationInvitation(await s.invitations.decline(actor, params.id)),
    }),
  };
}
