import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { toApiKey, toCurrentUser } from '../presenters/accounts.presenter';
import { permissionsOf } from '../services/permissions';
import type { CurrentUser } from '../services/users.service';
import { message } from './replies';

export function authHandlers(s: Services): Handlers {
  return {
    login: async ({ body, req }) => ({
      status: 200,
      body: await s.auth.login(body.username, body.password, req.ip ?? 'unknown'),
    }),
    refreshToken: async ({ actor }) => ({ status: 200, body: await s.auth.refresh(actor) }),
    logout: async ({ actor }) => {
      await s.auth.logout(actor);
      return message('Logged out successfully');
    },
    getCurrentUser: async ({ actor }) => ({ status: 200, body: currentUser(await s.users.me(actor)) }),
    provisionCurrentUser: async ({ req, body }) => {
      // The auth middleware sets either: an actor, or the verified identity of an external token without an account.
      const caller = req.actor ? { actor: req.actor } : { identity: req.identity! };
      const { created, ...user } = await s.users.provision(caller, body ?? {});
      return created ? { status: 201, body: currentUser(user) } : { status: 200, body: currentUser(user) };
    },
    createApiKey: async ({ actor, body }) => {
      const created = await s.apiKeys.create(actor, body.name, body.expires_at, {
        organization_id: body.organization_id,
        role: body.role,
      });
      return { status: 201, body: { ...toApiKey(created), key: created.key } };
    },
    listApiKeys: async ({ actor, query }) => ({
      status: 200,
      body: { api_keys: (await s.apiKeys.list(actor, query.organization)).map(toApiKey) },
    }),
    deleteApiKey: async ({ actor, params }) => {
      await s.apiKeys.delete(actor, params.id);
      return message('API key deleted successfully');
    },
  };
}

function currentUser({ account, actor }: CurrentUser) {
  return toCurrentUser(account, actor, permissionsOf(actor.role));
}
