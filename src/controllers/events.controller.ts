/** 000's inbound events. */
import type { Handlers } from '../http/operations';
import type { Services } from '../services';

export function inboundEventHandlers(s: Services): Handlers {
  return {
    postEvent: async ({ actor, body }) => {
      const ids = await s.inboundEvents.post(actor, body);
      return { status: 200, body: { resumed: ids.length, execution_ids: ids } };
    },
  };
}
