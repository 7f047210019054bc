/**
 * The signed-in session: the token lives in memory and in sessionStorage (so a reload keeps it,
 * a closed tab forgets it); never in a URL. Every call goes through the generated client.
 */
import { Configuration, FlowRunnerClient, SchedulesApi, WebhooksApi } from '@flowrunner/client';

const STORAGE_KEY = 'flowrunner.console.token';

export interface Session {
  token: string;
  accountId: string;
  client: FlowRunnerClient;
  /** Triggers: generated APIs that FlowRunnerClient does not carry yet, on its transport. */
  schedules: SchedulesApi;
  webhooks: WebhooksApi;
}

export const baseUrl = (): string => window.location.origin;

function sessionFor(token: string, accountId: string): Session {
  const client = new FlowRunnerClient({ baseUrl: baseUrl(), token });
  const configuration = new Configuration({ basePath: client.baseUrl, accessToken: () => token });
  return {
    token,
    accountId,
    client,
    schedules: new SchedulesApi(configuration, client.baseUrl, client.axios),
    webhooks: new WebhooksApi(configuration, client.baseUrl, client.axios),
  };
}

/** The stored session, checked against the server (an expired or revoked token gives null). */
export async function restoreSession(): Promise<Session | null> {
  const token = sessionStorage.getItem(STORAGE_KEY);
  if (!token) return null;
  const probe = sessionFor(token, '');
  try {
    const { data } = await probe.client.users.getCurrentUser();
    return { ...probe, accountId: data.id };
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    return null;
  }
}

export async function logIn(username: string, password: string): Promise<Session> {
  const anonymous = new FlowRunnerClient({ baseUrl: baseUrl(), retry: { maxRetries: 0 } });
  const { data } = await anonymous.auth.login({ loginRequest: { username, password } });
  sessionStorage.setItem(STORAGE_KEY, data.token);
  return sessionFor(data.token, data.account_id);
}

export function forgetSession(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Revokes the token on the server, then forgets it (even when the server could not be reached). */
export async function logOut(session: Session): Promise<void> {
  try {
    await session.client.auth.logout();
  } finally {
    forgetSession();
  }
}
