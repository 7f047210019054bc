import type http from 'node:http';
import type { Notifier } from '../engine/notifier';
import type { Logger } from '../log';
import type { Services } from '../services';
import { EventHub } from './hub';
import { ExecutionSockets } from './ws-server';

/** The WebSocket API on an HTTP server, fed by this process's LISTEN connection. */
export function attachRealtime(
  server: http.Server,
  services: Services,
  notifier: Notifier,
  log: Logger,
): { close(): Promise<void> } {
  const hub = new EventHub(services.db, notifier, log);
  const sockets = new ExecutionSockets(services, hub, log);
  sockets.attach(server);
  return {
    close: async () => {
      await sockets.close();
      hub.close();
    },
  };
}
