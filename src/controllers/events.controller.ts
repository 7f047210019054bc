/** 000's inbound events and callbacks. */
import type { Handlers } from '../http/operations';
import type { Services } from '../services';

export function inboundEventHandlers(s: Services): Handlers {
  return {
    callCallback: async ({ params, body, req }) => {
      await s.callbacks.call(params.token, body.outcome, body.output, req.ip ?? 'unknown');
      return { status: 200, body: { message: 'Callback accepted' } };
    },
    postEvent: async ({ actor, body }) => {
      const ids = await s.inboundEvents.post(actor, body);
      return { status: 200, body: { resumed: ids.length, execution_ids: ids } };
    },
  };
}
