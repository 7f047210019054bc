import type { Handlers } from '../http/operations';
import { toFlow, toFlowSummary, toFlowVersion, toNodeType } from '../presenters/flows.presenter';
import type { Services } from '../services';
import { message } from './replies';

/** `?tag=a&tag=b` and `?tag=a,b` alike (tags hold no commas). */
const tagsOf = (tag: string | string[] | undefined): string[] =>
  (tag === undefined ? [] : Array.isArray(tag) ? tag : [tag])
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);

export function flowHandlers(s: Services): Handlers {
  return {
    listFlows: async ({ actor, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.flows.list(actor, {
        tags: tagsOf(query.tag),
        name: query.name,
        q: query.q,
        organization: query.organization,
        limit,
        offset,
      });
      return { status: 200, body: { flows: rows.map(toFlowSummary), total, limit, offset } };
    },
    createFlow: async ({ actor, body }) => ({ status: 201, body: toFlow(await s.flows.create(actor, body)) }),
    getFlow: async ({ actor, params }) => ({ status: 200, body: toFlow(await s.flows.read(actor, params.id)) }),
    updateFlow: async ({ actor, params, body }) => ({
      status: 200,
      body: toFlow(await s.flows.update(actor, params.id, body)),
    }),
    setFlowLiveVersion: async ({ actor, params, body }) => ({
      status: 200,
      body: toFlow(await s.flows.setLive(actor, params.id, body.version)),
    }),
    deleteFlow: async ({ actor, params }) => {
      await s.flows.delete(actor, params.id);
      return message('Flow deleted successfully');
    },
    listFlowVersions: async ({ actor, params, query }) => {
      const limit = query.limit ?? 10;
      const offset = query.offset ?? 0;
      const { rows, total } = await s.flows.versions(actor, params.id, limit, offset);
      return { status: 200, body: { versions: rows.map((r) => toFlowVersion(r, false)), total, limit, offset } };
    },
    getFlowVersion: async ({ actor, params }) => ({
      status: 200,
      body: toFlowVersion(await s.flows.version(actor, params.id, params.version), true),
    }),
    listNodeTypes: async ({ query }) => {
      const limit = query.limit ?? 100;
      const offset = query.offset ?? 0;
      const { rows, total, nextCursor } = s.flows.nodeTypes({
        category: query.category,
        limit,
        offset,
        cursor: query.cursor,
      });
      return { status: 200, body: { node_types: rows.map(toNodeType), total, limit, offset, next_cursor: nextCursor } };
    },
    getNodeType: async ({ params }) => ({ status: 200, body: toNodeType(s.flows.nodeType(params.type)) }),
  };
}
