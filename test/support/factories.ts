/** One line to an account (with a token and a client), a flow, an execution. */
import crypto from 'node:crypto';
import type { AccountRow } from '../../src/db/tables';
import type { Actor } from '../../src/services/actor';
import type { Execution } from '../../generated/client/index';
import { apiClient, type ApiClient } from './client';
import { eventually } from './eventually';
import type { TestServer } from './server';

const SYSTEM: Actor = { accountId: 'system', role: 'admin', via: 'token', memberships: new Map() };

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
  return (await owner.client.flows.createFlow({ flowCreate: { name, definition } })).data.id;
}

const FINAL = ['completed', 'failed', 'cancelled'];

/** Polls until the execution has one of `statuses` (by default: it has finished). */
export async function waitForExecution(
  owner: Pick<TestAccount, 'client'>,
  id: string,
  statuses: string[] = FINAL,
  timeout = 30_000,
): Promise<Execution> {
  return eventually(
    async () => {
      const { data } = await owner.client.executions.getExecution({ id });
      if (!statuses.includes(data.status)) throw new Error(`its status is ${data.status}`);
      return data;
    },
    { timeout, what: `execution ${id} to be ${statuses.join(' or ')}` },
  );
}

/** Runs a flow and waits for its end. */
export async function runToEnd(owner: TestAccount, flowId: string, input: Record<string, unknown> = {}) {
  const { data } = await owner.client.executions.runFlow({ id: flowId, runFlowRequest: { input } });
  return waitForExecution(owner, data.execution_id);
}
