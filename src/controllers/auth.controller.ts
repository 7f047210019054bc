import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { toAccount, toApiKey } from '../presenters/accounts.presenter';
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
    getCurrentUser: async ({ actor }) => ({
      status: 200,
      body: toAccount(await s.accounts.get(actor, actor.accountId)),
    }),
    createApiKey: async ({ actor, body }) => {
      const created = await s.apiKeys.create(actor, body.name, body.expires_at);
      return { status: 201, body: { ...toApiKey(created), key: created.key } };
    },
    listApiKeys: async ({ actor }) => ({
      status: 200,
      body: { api_keys: (await s.apiKeys.list(actor)).map(toApiKey) },
    }),
    deleteApiKey: async ({ actor, params }) => {
      await s.apiKeys.delete(actor, params.id);
      return message('API key deleted successfully');
    },
  };
}
