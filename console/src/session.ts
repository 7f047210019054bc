/**
 * The signed-in session: the token lives in memory and in sessionStorage (so a reload keeps it,
 * a closed tab forgets it); never in a URL. Every call goes through the generated client.
 */
import { Configuration, FlowRunnerClient, SchedulesApi, WebhooksApi, type SignInOptions } from '@flowrunner/client';

const STORAGE_KEY = 'flowrunner.console.token';
/** Set when the session came from the identity provider: logging out then signs out there too. */
const VIA_KEY = 'flowrunner.console.via';
/** Where a browser signs out at the identity provider after its token is revoked here. */
const PROVIDER_LOGOUT_URL = '/api/v1/auth/oidc/logout';

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
  sessionStorage.removeItem(VIA_KEY);
}

/** What the sign-in page offers (password, and an identity provider when one is configured). */
export async function signInOptions(): Promise<SignInOptions> {
  const anonymous = new FlowRunnerClient({ baseUrl: baseUrl(), retry: { maxRetries: 1 } });
  return (await anonymous.auth.getSignInOptions()).data;
}

/**
 * After the identity provider sent the browser back (`#/signed-in`): the server has this
 * browser's finished sign-in (bound to its HttpOnly cookie) and answers our token, once.
 */
export async function finishProviderSignIn(): Promise<Session> {
  const anonymous = new FlowRunnerClient({ baseUrl: baseUrl(), retry: { maxRetries: 0 } });
  const { data } = await anonymous.auth.createOidcSession();
  sessionStorage.setItem(STORAGE_KEY, data.token);
  sessionStorage.setItem(VIA_KEY, 'identity_provider');
  return sessionFor(data.token, data.account_id);
}

/**
 * Revokes the token on the server, then forgets it (even when the server could not be reached).
 * A session from the identity provider then signs out there too (the browser leaves the page);
 * the answer says whether it did.
 */
export async function logOut(session: Session): Promise<'here' | 'provider'> {
  const viaProvider = sessionStorage.getItem(VIA_KEY) === 'identity_provider';
  try {
    await session.client.auth.logout();
  } finally {
    forgetSession();
  }
  if (!viaProvider) return 'here';
  window.location.assign(PROVIDER_LOGOUT_URL);
  return 'provider';
}
