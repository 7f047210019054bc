import type http from 'node:http';
import type { Notifier } from '../engine/notifier';
import type { Logger } from '../log';
import type { Services } from '../services';
import { listFinishedExecutionIds } from '../repositories/finished-executions.repository';
import { CompletionWaiter } from './completion-waiter';
import { EventHub } from './hub';
import { ExecutionSockets } from './ws-server';

/**
 * The WebSocket API on an HTTP server and the wake-ups of run-and-wait requests, fed by this
 * process's LISTEN connection.
 */
export function attachRealtime(
  server: http.Server,
  services: Services,
  notifier: Notifier,
  log: Logger,
): { close(): Promise<void> } {
  const hub = new EventHub(services.db, notifier, log);
  const sockets = new ExecutionSockets(services, hub, log);
  sockets.attach(server);
  const waiter = new CompletionWaiter(
    (ids) => listFinishedExecutionIds(services.db, ids),
    notifier,
    log,
    services.config.maxWaitingRequests,
  );
  services.completions.useWaits(waiter);
  return {
    close: async () => {
      // Waiting requests answer now rather than hold the server's close for their whole wait.
      services.completions.useWaits(undefined);
      waiter.close();
      await sockets.close();
      hub.close();
    },
  };
}
