/** Connections: named credentials that http.request uses. */
import type { Handlers } from '../http/operations';
import { toConnection } from '../presenters/connections.presenter';
import type { Services } from '../services';
import { message } from './replies';

export function connectionHandlers(s: Services): Handlers {
  return {
    listConnections: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const { rows, nextCursor } = await s.connections.list(actor, {
        limit,
        cursor: query.cursor,
        organization: query.organization,
      });
      return { status: 200, body: { connections: rows.map(toConnection), limit, next_cursor: nextCursor } };
    },
    createConnection: async ({ actor, body }) => ({
      status: 201,
      body: toConnection(await s.connections.create(actor, body)),
    }),
    getConnection: async ({ actor, params }) => ({
      status: 200,
      body: toConnection(await s.connections.get(actor, params.id)),
    }),
    updateConnection: async ({ actor, params, body }) => ({
      status: 200,
      body: toConnection(await s.connections.update(actor, params.id, body)),
    }),
    deleteConnection: async ({ actor, params }) => {
      await s.connections.delete(actor, params.id);
      return message('Connection deleted successfully');
    },
  };
}
