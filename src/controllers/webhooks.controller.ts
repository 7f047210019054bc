import type { Handlers } from '../http/operations';
import { toWebhook, toWebhookDelivery } from '../presenters/webhooks.presenter';
import type { Services } from '../services';
import { message } from './replies';

/** The management of webhook triggers; their calls (`/hooks/{token}`) are answered by http/hooks.ts. */
export function webhookHandlers(s: Services): Handlers {
  return {
    createWebhook: async ({ actor, params, body }) => {
      const row = await s.webhooks.create(actor, params.id, body);
      return { status: 201, body: toWebhook(row, { token: row.token, secret: row.plainSecret }) };
    },
    listWebhooks: async ({ actor, params }) => ({
      status: 200,
      body: { webhooks: (await s.webhooks.list(actor, params.id)).map((r) => toWebhook(r)) },
    }),
    getWebhook: async ({ actor, params }) => ({
      status: 200,
      body: toWebhook(await s.webhooks.get(actor, params.id, params.webhook_id)),
    }),
    updateWebhook: async ({ actor, params, body }) => ({
      status: 200,
      body: toWebhook(await s.webhooks.update(actor, params.id, params.webhook_id, body)),
    }),
    deleteWebhook: async ({ actor, params }) => {
      await s.webhooks.delete(actor, params.id, params.webhook_id);
      return message('Webhook deleted successfully');
    },
    rotateWebhookToken: async ({ actor, params }) => {
      const row = await s.webhooks.rotate(actor, params.id, params.webhook_id);
      return { status: 200, body: toWebhook(row, { token: row.token }) };
    },
    listWebhookDeliveries: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.webhooks.deliveries(actor, params.id, params.webhook_id, limit, offset);
      return { status: 200, body: { deliveries: rows.map(toWebhookDelivery), total, limit, offset } };
    },
  };
}
