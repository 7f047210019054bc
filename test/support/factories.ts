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

export async function makeAccount(
  server: TestServer,
  opts: { role?: 'admin' | 'user'; email?: string; password?: string; name?: string } = {},
): Promise<TestAccount> {
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

/** Creates a flow from a definition; returns its id. */
export async function makeFlow(
  owner: TestAccount,
  definition: string,
  name = `flow-${crypto.randomBytes(4).toString('hex')}`,
): Promise<string> {
  return (await owner.client.flows.createFlow({ name, definition })).data.id;
}

const FINAL = ['completed', 'failed', 'cancelled'];

/** Polls until the execution is final (or the test's own timeout ends the wait). */
export async function waitForExecution(
  owner: TestAccount,
  id: string,
  until: (status: string) => boolean = (s) => FINAL.includes(s),
) {
  for (;;) {
    const { data } = await owner.client.executions.getExecution(id);
    if (until(data.status)) return data;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a flow and waits for its end. */
export async function runToEnd(owner: TestAccount, flowId: string, input: Record<string, unknown> = {}) {
  const { data } = await owner.client.executions.runFlow(flowId, { input });
  return waitForExecution(owner, data.execution_id);
}
