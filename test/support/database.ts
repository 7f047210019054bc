/**
 * One database per test run: on the server of DATABASE_URL when set (CI), else on an embedded
 * PostgreSQL in a temporary folder. Created and migrated before the first test, dropped after the last.
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

let embedded: EmbeddedDatabase | undefined;
let embeddedDir: string | undefined;
let adminUrl: string | undefined;
let dbName: string | undefined;
let testUrl: string | undefined;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createTestDatabase(): Promise<string> {
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    embeddedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-test-pg-'));
    embedded = await startEmbeddedPostgres(embeddedDir, 'postgres', createLogger('silent'));
    adminUrl = embedded.url;
  }
  dbName = `flowrunner_test_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database "${dbName}"`);
  } finally {
    await client.end();
  }
  testUrl = withDatabase(adminUrl, dbName);
  const knex = createKnex(testUrl, 2);
  try {
    await migrateToLatest(knex);
  } finally {
    await knex.destroy();
  }
  return testUrl;
}

export function testDatabaseUrl(): string {
  if (!testUrl) throw new Error('The test database is not created yet');
  return testUrl;
}

/** The server's own URL for an extra database a test makes (and drops) itself. */
export function adminDatabaseUrl(): string {
  if (!adminUrl) throw new Error('The test database is not created yet');
  return adminUrl;
}

export async function dropTestDatabase(): Promise<void> {
  if (adminUrl && dbName) {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`drop database if exists "${dbName}" with (force)`);
    } finally {
      await client.end();
    }
  }
  await embedded?.stop();
  if (embeddedDir) fs.rmSync(embeddedDir, { recursive: true, force: true });
}
