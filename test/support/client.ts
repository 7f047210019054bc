/** The generated client, pointed at a test server, as an integrator would use it. */
import axios, { type AxiosError } from 'axios';
import { expect } from 'chai';
import {
  AccountsApi,
  APIKeysApi,
  AuthApi,
  Configuration,
  ConnectionsApi,
  EventsApi,
  ExecutionsApi,
  FilesApi,
  FlowRequestsApi,
  FlowsApi,
  HumanInTheLoopApi,
  ListenersApi,
  MetaApi,
  NodeTypesApi,
  OrganizationsApi,
  PackagesApi,
  RunsApi,
  SchedulesApi,
  SecretsApi,
  SharingApi,
  UsersApi,
  WebhooksApi,
} from '../../generated/client/index';

export type Credentials = { token: string } | { apiKey: string } | undefined;

export function apiClient(baseUrl: string, credentials?: Credentials) {
  const configuration = new Configuration({
    basePath: baseUrl,
    accessToken: credentials && 'token' in credentials ? credentials.token : undefined,
    apiKey: credentials && 'apiKey' in credentials ? credentials.apiKey : undefined,
  });
  const http = axios.create();
  const make = <T>(Api: new (c: Configuration, base: string, ax: typeof http) => T) =>
    new Api(configuration, baseUrl, http);
  return {
    auth: make(AuthApi),
    users: make(UsersApi),
    apiKeys: make(APIKeysApi),
    accounts: make(AccountsApi),
    secrets: make(SecretsApi),
    connections: make(ConnectionsApi),
    flows: make(FlowsApi),
    flowRequests: make(FlowRequestsApi),
    files: make(FilesApi),
    events: make(EventsApi),
    nodeTypes: make(NodeTypesApi),
    executions: make(ExecutionsApi),
    runs: make(RunsApi),
    schedules: make(SchedulesApi),
    hitl: make(HumanInTheLoopApi),
    sharing: make(SharingApi),
    listeners: make(ListenersApi),
    packages: make(PackagesApi),
    meta: make(MetaApi),
    webhooks: make(WebhooksApi),
    organizations: make(OrganizationsApi),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Awaits a call that must fail, and checks the status and the seed's error code. */
export async function expectError(
  call: Promise<unknown>,
  status: number,
  code: string,
): Promise<{ code: string; message: string; details?: Record<string, unknown> | null }> {
  try {
    await call;
  } catch (err) {
    const res = (err as AxiosError).response;
    if (!res) throw err;
    expect(res.status, JSON.stringify(res.data)).to.equal(status);
    const body = res.data as { error: { code: string; message: string; details?: Record<string, unknown> | null } };
    expect(body.error.code, JSON.stringify(body)).to.equal(code);
    expect(body.error.message).to.be.a('string').and.have.length.above(0);
    return body.error;
  }
  expect.fail(`expected ${status} ${code}, but the call succeeded`);
}
