/**
 * The engine of one process: the LISTEN connection, the outbound HTTP guard and, in a worker
 * process, the worker, the listener deliverer and housekeeping.
 */
import type { Config } from '../config';
import type { Db } from '../db/knex';
import type { Logger } from '../log';
import { DELIVERIES_CHANNEL, EVENTS_CHANNEL } from '../repositories/events.repository';
import { CANCEL_CHANNEL } from '../repositories/executions.repository';
import { ABORT_TASKS_CHANNEL } from '../repositories/branches.repository';
import { FINISHED_CHANNEL, FINISHED_HERE } from '../repositories/finished-executions.repository';
import { INVALIDATE_CHANNEL } from '../repositories/invalidations.repository';
import { TASKS_CHANNEL } from '../repositories/tasks.repository';
import { Deliverer } from './deliverer';
import { configureExpressions, expressionLimits, warmExpressions } from './expressions';
import { startHousekeeping } from './housekeeping';
import { HttpGuard } from './http-guard';
import { Notifier } from './notifier';
import type { EngineDeps } from './ports';
import { ConnectionAuth } from './connections';
import { StepRunner } from './runner';
import { newWorkerId, Worker } from './worker';

export interface Engine {
  notifier: Notifier;
  http: HttpGuard;
  worker?: Worker;
  stop(): Promise<void>;
}

export async function startEngine(
  db: Db,
  databaseUrl: string,
  deps: EngineDeps,
  config: Config,
  log: Logger,
  opts: { worker: boolean },
): Promise<Engine> {
  const notifier = new Notifier(
    databaseUrl,
    [
      TASKS_CHANNEL,
      CANCEL_CHANNEL,
      EVENTS_CHANNEL,
      DELIVERIES_CHANNEL,
      INVALIDATE_CHANNEL,
      FINISHED_CHANNEL,
      ABORT_TASKS_CHANNEL,
    ],
    log,
  );
  const bus = deps.invalidations;
  notifier.on(INVALIDATE_CHANNEL, (payload: string) => bus.received(payload));
  notifier.on('reconnected', () => bus.connected());
  notifier.on('disconnected', () => bus.disconnected());
  await notifier.start();
  const http = new HttpGuard(config.httpAllow);
  configureExpressions(expressionLimits(config));
  let worker: Worker | undefined;
  let deliverer: Deliverer | undefined;
  let stopHousekeeping = () => {};
  if (opts.worker) {
    warmExpressions();
    stopHousekeeping = startHousekeeping(db, config.loginWindowSeconds, log);
    deliverer = new Deliverer(db, http, deps.listeners, notifier, log);
    deliverer.start();
    const connections = new ConnectionAuth(deps.connections, http);
    const runner = new StepRunner(db, config, http, deps.secrets, connections, newWorkerId(), (execution) =>
      notifier.emit(FINISHED_HERE, execution),
    );
    worker = new Worker(db, runner, notifier, { concurrency: config.workerConcurrency, leaseMs: config.leaseMs, log });
    worker.start();
    deps.starter.handOverTo(worker);
    log.info({ worker: worker.id, concurrency: config.workerConcurrency }, 'worker started');
  }
  return {
    notifier,
    http,
    worker,
    stop: async () => {
      deps.starter.handOverTo(undefined);
      stopHousekeeping();
      await worker?.stop();
      await deliverer?.stop();
      await notifier.stop();
      bus.disconnected();
      http.close();
    },
  };
}
