import type { Handlers } from '../http/operations';
import type { Services } from '../services';
import { toAccount, toOrganizationSecret, toSecret } from '../presenters/accounts.presenter';
import { message } from './replies';

export function accountHandlers(s: Services): Handlers {
  return {
    listAccounts: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.accounts.list(actor, { role: query.role, limit, offset });
      return { status: 200, body: { accounts: rows.map(toAccount), total, limit, offset } };
    },
    createAccount: async ({ actor, body }) => ({ status: 201, body: toAccount(await s.accounts.create(actor, body)) }),
    getAccount: async ({ actor, params }) => ({ status: 200, body: toAccount(await s.accounts.get(actor, params.id)) }),
    updateAccount: async ({ actor, params, body }) => ({
      status: 200,
      body: toAccount(await s.accounts.update(actor, params.id, body)),
    }),
    deleteAccount: async ({ actor, params }) => {
      await s.accounts.delete(actor, params.id);
      return message('Account deleted successfully');
    },
    listSecrets: async ({ actor, params }) => ({
      status: 200,
      body: { secrets: (await s.secrets.listOfAccount(actor, params.account_id)).map(toSecret) },
    }),
    putSecret: async ({ actor, params, body }) => {
      const { row, created } = await s.secrets.putOfAccount(actor, params.account_id, body.key, body.value);
      return created ? { status: 201, body: toSecret(row) } : { status: 200, body: toSecret(row) };
    },
    deleteSecret: async ({ actor, params }) => {
      await s.secrets.deleteOfAccount(actor, params.account_id, params.key);
      return message('Secret deleted successfully');
    },
    listOrganizationSecrets: async ({ actor, query }) => ({
      status: 200,
      body: { secrets: (await s.secrets.list(actor, query.organization)).map(toOrganizationSecret) },
    }),
    putOrganizationSecret: async ({ actor, body }) => {
      const { row, created } = await s.secrets.put(actor, body.organization_id, body.key, body.value);
      return { status: created ? 201 : 200, body: toOrganizationSecret(row) };
    },
    deleteOrganizationSecret: async ({ actor, params, query }) => {
      await s.secrets.delete(actor, query.organization_id, params.key);
      return message('Secret deleted successfully');
    },
  };
}
