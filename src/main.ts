/**
 * Start-up: config, database (external or embedded), migrations, keys, the first admin, then the
 * API server and/or the workers as FLOWRUNNER_ROLE (or `npm start -- api|worker|all`) says.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { config, ConfigError, type Config, type Role } from './config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded';
import { createKnex, type Knex } from './db/knex';
import { migrateToLatest } from './db/migrate';
import { startEngine, type Engine } from './engine';
import { createHttpServer } from './http/app';
import { createLogger, type Logger } from './log';
import { attachRealtime } from './realtime';
import { createServices, type Services } from './services';
import { Scheduler } from './services/scheduler';
import { resolveKeys } from './security/keys';

export interface Running {
  url?: string;
  services: Services;
  engine: Engine;
  stop(): Promise<void>;
}

const DEFAULT_ADMIN_EMAIL = 'admin@flowrunner.local';

async function ensureFirstAdmin(s: Services, cfg: Config, log: Logger): Promise<void> {
  const email = cfg.adminEmail ?? DEFAULT_ADMIN_EMAIL;
  const generated = cfg.adminPassword === undefined;
  const password = cfg.adminPassword ?? crypto.randomBytes(12).toString('base64url');
  const created = await s.accounts.ensureFirstAdmin(email, password);
  if (!created) return;
  log.info({ email: created.email }, 'created the first admin account');
  // Printed once, to the terminal, not to the JSON log.
  process.stdout.write(
    `\n  First admin account created\n    email:    ${created.email}\n` +
      (generated
        ? `    password: ${password}   (generated; shown only now, change it with PUT /api/v1/accounts/${created.id})\n\n`
        : `    password: from FLOWRUNNER_ADMIN_PASSWORD\n\n`),
  );
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Starts a FlowRunner process; `stop` undoes it in reverse order. */
export async function start(cfg: Config, role: Role, log: Logger): Promise<Running> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = cfg.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(cfg.dataDir, 'flowrunner', log);
    databaseUrl = embedded.url;
  }
  let db: Knex | undefined;
  let server: http.Server | undefined;
  let engine: Engine | undefined;
  let scheduler: Scheduler | undefined;
  let realtime: { close(): Promise<void> } | undefined;
  const stop = async () => {
    await realtime?.close();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await scheduler?.stop();
    await engine?.stop();
    await db?.destroy();
    await embedded?.stop();
  };
  try {
    db = createKnex(databaseUrl, cfg.dbPoolMax, log);
    await migrateToLatest(db);
    const services = createServices(db, cfg, log, resolveKeys(cfg));
    await ensureFirstAdmin(services, cfg, log);
    engine = await startEngine(db, databaseUrl, services, cfg, log, { worker: role !== 'api' });
    if (role !== 'api') {
      // Worker processes fire the schedules; any number of them may, each due time fires once.
      scheduler = new Scheduler(db, services.scheduleFiring, services.clock, log, cfg.schedulerPollMs);
      scheduler.start();
    }
    let url: string | undefined;
    if (role !== 'worker') {
      server = createHttpServer(services);
      server.keepAliveTimeout = 65_000;
      realtime = attachRealtime(server, services, engine.notifier, log);
      const port = await listen(server, cfg.port, cfg.host);
      url = `http://${cfg.host === '0.0.0.0' ? 'localhost' : cfg.host}:${port}`;
    }
    return { url, services, engine, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const SHUTDOWN_TIMEOUT_MS = 20_000;

function stopAndExit(running: Running, log: Logger): void {
  running.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}

/** What went wrong, for a person: a stack, a cause, or whatever was thrown (not "undefined"). */
export function describeFailure(err: unknown): string {
  if (err instanceof Error) {
    const own = err.stack ?? `${err.name}: ${err.message}`;
    return err.cause === undefined ? own : `${own}\n  caused by: ${describeFailure(err.cause)}`;
  }
  if (err === undefined || err === null) return `an unexplained failure (${String(err)} was thrown)`;
  return typeof err === 'string' ? err : inspect(err, { depth: 4 });
}

async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = config();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const arg = process.argv[2];
  const role: Role =
    arg === 'api' || arg === 'serve' ? 'api' : arg === 'worker' ? 'worker' : arg === 'all' ? 'all' : cfg.role;
  const log = createLogger(cfg.logLevel);
  // Signals are ours from the start: one that comes while starting stops what has started so far.
  const started: { running?: Running } = {};
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // A stop that hangs must not keep the process (and the embedded PostgreSQL's exit hook) waiting.
    setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    if (started.running) stopAndExit(started.running, log);
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
  const running = await start(cfg, role, log);
  started.running = running;
  if (stopping) return stopAndExit(running, log);
  const where = cfg.databaseUrl ? 'PostgreSQL from DATABASE_URL' : `embedded PostgreSQL in ${cfg.dataDir}`;
  const worker = running.engine.worker ? `    Worker:  ${cfg.workerConcurrency} steps at a time\n` : '';
  const api = running.url
    ? `    API:     ${running.url}/api/v1\n    Console: ${running.url}/console\n    Docs:    ${running.url}/docs\n    Spec:    ${running.url}/openapi.yaml\n`
    : '';
  process.stdout.write(`\n  FlowRunner is running (${role}) on ${where}\n${api}${worker}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`FlowRunner failed to start: ${describeFailure(err)}\n`);
    process.exit(1);
  });
}
