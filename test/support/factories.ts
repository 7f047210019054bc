/** One line to an account (with a token and a client), a flow, an execution. */
import crypto from 'node:crypto';
import type { AccountRow } from '../../src/db/tables';
import type { Actor } from '../../src/services/actor';
import { apiClient, type ApiClient } from './client';
import type { TestServer } from './server';

const SYSTEM: Actor = { accountId: 'system', role: 'admin', via: 'token' };

export interface TestAccount {
  account: AccountRow;
  password: string;
  token: string;
  client: ApiClient;
}

export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${crypto.randomBytes(5).toString('hex')}@example.com`;
}

export async function makeAccount(server: TestServer, opts: { role?: 'admin' | 'user'; email?: string; password?: string; name?: string } = {}): Promise<TestAccount> {
  const password = opts.password ?? `pw-${crypto.randomBytes(6).toString('hex')}`;
  const account = await server.services.accounts.create(SYSTEM, {
    name: opts.name ?? 'Test Account',
    email: opts.email ?? uniqueEmail(opts.role ?? 'user'),
    password,
    role: opts.role ?? 'user',
  });
  const { token } = server.services.auth.issueToken(account.id);
  return { account, password, token, client: apiClient(server.url, { token }) };
}
