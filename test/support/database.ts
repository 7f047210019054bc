/**
 * A database of its own for every test file, cloned from a template that is migrated once per run.
 *
 * The run's global setup (in mocha's main process) picks the server — DATABASE_URL when set (CI),
 * else an embedded PostgreSQL in a temporary folder — migrates the template there, and tells the
 * test processes where it is through the environment, which mocha's parallel workers inherit.
 * Each file then clones the template (`create database … template …`), far cheaper than migrating,
 * and drops its clone at its end. The global teardown drops whatever is left with the run's name
 * prefix, template included, and stops the embedded server.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded';
import { createKnex } from '../../src/db/knex';
import { migrateToLatest } from '../../src/db/migrate';
import { createLogger } from '../../src/log';

/** The server's maintenance database, for creating and dropping databases. */
const ADMIN_URL_ENV = 'FLOWRUNNER_TEST_ADMIN_URL';
/** The run's name: every database the run makes starts with it. */
const RUN_ENV = 'FLOWRUNNER_TEST_RUN';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function fromEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the mocha global setup in test/support/hooks.ts did not run`);
  return value;
}

async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const templateName = () => `${fromEnv(RUN_ENV)}_template`;

// The global setup's state (main process only).
let embedded: EmbeddedDatabase | undefined;
let embeddedDir: string | undefined;

/** Global setup: the server, and the migrated template on it. */
export async function setUpTestRun(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    embeddedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-test-pg-'));
    embedded = await startEmbeddedPostgres(embeddedDir, 'postgres', createLogger('silent'));
    adminUrl = embedded.url;
  }
  process.env[ADMIN_URL_ENV] = adminUrl;
  process.env[RUN_ENV] = `flowrunner_test_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  try {
    const template = templateName();
    await asAdmin((c) => c.query(`create database "${template}"`));
    const knex = createKnex(withDatabase(adminUrl, template), 2);
    try {
      await migrateToLatest(knex);
    } finally {
      // No connection may stay open to a template while it is cloned.
      await knex.destroy();
    }
  } catch (err) {
    // Mocha runs no teardown after a failed setup.
    await tearDownTestRun();
    throw err;
  }
}

/** Global teardown: every database of the run (a file that died may have left its own), then the server. */
export async function tearDownTestRun(): Promise<void> {
  try {
    if (process.env[ADMIN_URL_ENV] && process.env[RUN_ENV]) {
      await asAdmin(async (c) => {
        const { rows } = await c.query<{ datname: string }>(
          'select datname from pg_database where starts_with(datname, $1)',
          [`${fromEnv(RUN_ENV)}_`],
        );
        for (const { datname } of rows) await c.query(`drop database if exists "${datname}" with (force)`);
      });
    }
  } finally {
    await embedded?.stop();
    if (embeddedDir) fs.rmSync(embeddedDir, { recursive: true, force: true });
    embedded = embeddedDir = undefined;
  }
}

let made = 0;

/** A new database of the run, named `<run>_<tag>_<pid>_<n>`, so the teardown finds it whatever happens. */
export function runDatabaseName(tag: string): string {
  return `${fromEnv(RUN_ENV)}_${tag}_${process.pid}_${++made}`;
}

/** A fresh migrated database cloned from the template; `drop` removes it. */
export async function cloneTestDatabase(tag = 'db'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = runDatabaseName(tag);
  await asAdmin((c) => c.query(`create database "${name}" template "${templateName()}"`));
  return {
    url: withDatabase(adminDatabaseUrl(), name),
    drop: () => asAdmin(async (c) => void (await c.query(`drop database if exists "${name}" with (force)`))),
  };
}

let fileDatabase: { url: string; drop(): Promise<void> } | undefined;

/** Root hook, once per test file in a parallel run (once per run in a serial one). */
export async function createFileDatabase(): Promise<void> {
  fileDatabase = await cloneTestDatabase('file');
}

export async function dropFileDatabase(): Promise<void> {
  const db = fileDatabase;
  fileDatabase = undefined;
  await db?.drop();
}

/** The current test file's database. */
export function testDatabaseUrl(): string {
  if (!fileDatabase) throw new Error('The test database is not created yet');
  return fileDatabase.url;
}

/** The server's own URL, for an extra database a test makes (and drops) itself; see runDatabaseName. */
export function adminDatabaseUrl(): string {
  return fromEnv(ADMIN_URL_ENV);
}
