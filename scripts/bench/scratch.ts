/**
 * What both benchmarks stand on: a scratch database (on DATABASE_URL's server, else an embedded
 * PostgreSQL), migrated, with the services and engine of one FlowRunner process over it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseConfig, type Config } from '../../src/config';
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { createKnex, type Knex } from '../../src/db/knex';
import { migrateToLatest } from '../../src/db/migrate';
import { startEngine, type Engine } from '../../src/engine';
import { createLogger, type Logger } from '../../src/log';
import { createServices, type Services } from '../../src/services';
import type { Actor } from '../../src/services/actor';

/** The keys of the scratch process's services; FlowRunner processes started on the scratch database take them from the environment, so tokens issued here verify there. */
export const BENCH_KEYS = {
  jwtSecret: 'bench-secret-bench-secret-bench-secret!!',
  encryptionKey: Buffer.alloc(32, 7),
};

export interface Scratch {
  config: Config;
  log: Logger;
  db: Knex;
  services: Services;
  engine: Engine;
  /** An admin account to act as, with a token for HTTP. */
  actor: Actor;
  token: string;
  where: string;
  close(): Promise<void>;
}

export async function scratch(env: Record<string, string>, opts: { worker: boolean }): Promise<Scratch> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-bench-'));
  const log = createLogger('silent');
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres(dir, 'postgres', log);
  const adminUrl = process.env.DATABASE_URL ?? embedded!.url;
  const dbName = `flowrunner_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const config = parseConfig({ DATABASE_URL: url.toString(), FLOWRUNNER_DATA_DIR: dir, LOG_LEVEL: 'silent', ...env });
  const db = createKnex(url.toString(), config.dbPoolMax, log);
  await migrateToLatest(db);
  const services = createServices(db, config, log, BENCH_KEYS);
  const engine = await startEngine(db, url.toString(), services, config, log, opts);
  const system: Actor = { accountId: 'bench', role: 'admin', via: 'token', memberships: new Map() };
  const account = await services.accounts.create(system, {
    name: 'Bench',
    email: 'bench@example.com',
    password: 'bench-password',
    role: 'admin',
  });
  return {
    config,
    log,
    db,
    services,
    engine,
    actor: { accountId: account.id, role: 'admin', via: 'token', memberships: new Map() },
    token: services.auth.issueToken(account.id).token,
    where: embedded ? 'embedded PostgreSQL' : 'PostgreSQL from DATABASE_URL',
    close: async () => {
      await engine.stop();
      await db.destroy();
      await admin.query(`drop database "${dbName}" with (force)`);
      await admin.end();
      await embedded?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
