// DO NOT EDIT: copied from scripts/client/src/client.ts by `npm run generate`.
/**
 * FlowRunnerClient: every generated API on one object, authenticated once, over a transport that
 * retries safely and throws FlowRunnerErrors; paged lists as async iterables; following an
 * execution and running a flow to its end.
 *
 *   const client = new FlowRunnerClient({ baseUrl: 'http://localhost:8080', apiKey: 'frk_…' });
 *   const { data: flow } = await client.flows.createFlow({ flowCreate: { name, definition } });
 *   const execution = await client.runAndWait(flow.id, { input: { name: 'Ada' } });
 */
import type { AxiosInstance, AxiosRequestConfig, CreateAxiosDefaults } from 'axios';
import { AccountsApi, type AccountsApiListAccountsRequest } from './api/accounts-api.js';
import { APIKeysApi } from './api/apikeys-api.js';
import { AuthApi } from './api/auth-api.js';
import {
  ExecutionsApi,
  type ExecutionsApiGetExecutionEventsRequest,
  type ExecutionsApiGetExecutionLogsRequest,
  type ExecutionsApiGetExecutionStepsRequest,
  type ExecutionsApiListExecutionsRequest,
} from './api/executions-api.js';
import { ConnectionsApi } from './api/connections-api.js';
import { EventsApi } from './api/events-api.js';
import { FlowRequestsApi } from './api/flow-requests-api.js';
import { FilesApi } from './api/files-api.js';
import { OrganizationsApi } from './api/organizations-api.js';
import { FlowsApi, type FlowsApiListFlowsRequest, type FlowsApiListFlowVersionsRequest } from './api/flows-api.js';
import { HumanInTheLoopApi } from './api/human-in-the-loop-api.js';
import { ListenersApi } from './api/listeners-api.js';
import { MetaApi } from './api/meta-api.js';
import { NodeTypesApi } from './api/node-types-api.js';
import { PackagesApi } from './api/packages-api.js';
import { RunsApi, type RunsApiListRunsRequest } from './api/runs-api.js';
import { SchedulesApi } from './api/schedules-api.js';
import { SecretsApi } from './api/secrets-api.js';
import { SharingApi } from './api/sharing-api.js';
import { UsersApi } from './api/users-api.js';
import { WebhooksApi } from './api/webhooks-api.js';
import { Configuration } from './configuration.js';
import { FlowRunnerError } from './errors.js';
import { followExecution, type FinalEvent, type FollowOptions, type WebSocketConstructor } from './follow.js';
import type {
  Account,
  AccountList,
  Execution,
  ExecutionEvent,
  ExecutionEventList,
  ExecutionList,
  ExecutionSummary,
  FlowList,
  FlowSummary,
  FlowVersion,
  FlowVersionList,
  LogEntry,
  LogList,
  Run,
  RunList,
  Step,
  StepList,
} from './model/index.js';
import { byCursor, byOffset, paged, type Paged } from './paging.js';
import { createTransport, newIdempotencyKey, type RetryOptions } from './transport.js';

/** One way to authenticate, or none (login, meta endpoints). */
export type Credentials =
  | { token: string; apiKey?: never; getToken?: never }
  | { apiKey: string; token?: never; getToken?: never }
  | { getToken: () => string | Promise<string>; token?: never; apiKey?: never }
  | { token?: never; apiKey?: never; getToken?: never };

export type FlowRunnerClientOptions = Credentials & {
  /** The API's base URL, e.g. http://localhost:8080 (no /api/v1). */
  baseUrl: string;
  /** Retries of idempotent requests and starts (2 by default); `{ maxRetries: 0 }` turns them off. */
  retry?: RetryOptions;
  /** A time limit per attempt, in ms (none by default: long polls hold requests up to 30 s). */
  timeoutMs?: number;
  /** More axios defaults (headers, an http agent…). */
  axios?: CreateAxiosDefaults;
  /** For followExecution where there is no global WebSocket (Node 20: the `ws` package's). */
  WebSocket?: WebSocketConstructor;
};

type Page<R> = Omit<R, 'offset' | 'cursor'>;

export class Executions extends ExecutionsApi {
  /** Every execution the caller may see, newest first (cursor paging). */
  list(
    params: Page<ExecutionsApiListExecutionsRequest> = {},
    options?: AxiosRequestConfig,
  ): Paged<ExecutionSummary, ExecutionList> {
    return byCursor(
      async (cursor) => (await this.listExecutions({ ...params, ...(cursor ? { cursor } : {}) }, options)).data,
      (page) => page.executions,
    );
  }
  listLogs(params: Page<ExecutionsApiGetExecutionLogsRequest>, options?: AxiosRequestConfig): Paged<LogEntry, LogList> {
    return byOffset(
      async (offset) => (await this.getExecutionLogs({ ...params, ...(offset ? { offset } : {}) }, options)).data,
      (p) => p.logs,
    );
  }
  listSteps(params: Page<ExecutionsApiGetExecutionStepsRequest>, options?: AxiosRequestConfig): Paged<Step, StepList> {
    return byOffset(
      async (offset) => (await this.getExecutionSteps({ ...params, ...(offset ? { offset } : {}) }, options)).data,
      (p) => p.steps,
    );
  }
  /** The events written so far, by seq (to follow live ones, use followExecution). */
  listEvents(
    params: ExecutionsApiGetExecutionEventsRequest,
    options?: AxiosRequestConfig,
  ): Paged<ExecutionEvent, ExecutionEventList> {
    return paged(
      async (since: number | undefined) =>
        (await this.getExecutionEvents({ ...params, ...(since !== undefined ? { since } : {}) }, options)).data,
      (page) => page.events,
      (page) => page.next_seq,
    );
  }
}

export class Flows extends FlowsApi {
  list(params: Page<FlowsApiListFlowsRequest> = {}, options?: AxiosRequestConfig): Paged<FlowSummary, FlowList> {
    return byOffset(
      async (offset) => (await this.listFlows({ ...params, ...(offset ? { offset } : {}) }, options)).data,
      (p) => p.flows,
    );
  }
  listVersions(
    params: Page<FlowsApiListFlowVersionsRequest>,
    options?: AxiosRequestConfig,
  ): Paged<FlowVersion, FlowVersionList> {
    return byOffset(
      async (offset) => (await this.listFlowVersions({ ...params, ...(offset ? { offset } : {}) }, options)).data,
      (p) => p.versions,
    );
  }
}

export class Accounts extends AccountsApi {
  list(params: Page<AccountsApiListAccountsRequest> = {}, options?: AxiosRequestConfig): Paged<Account, AccountList> {
    return byOffset(
      async (offset) => (await this.listAccounts({ ...params, ...(offset ? { offset } : {}) }, options)).data,
      (p) => p.accounts,
    );
  }
}

export class Runs extends RunsApi {
  list(params: Page<RunsApiListRunsRequest> = {}, options?: AxiosRequestConfig): Paged<Run, RunList> {
    return byCursor(
      async (cursor) => (await this.listRuns({ ...params, ...(cursor ? { cursor } : {}) }, options)).data,
      (p) => p.items,
    );
  }
}

export interface RunAndWaitOptions {
  input?: Record<string, unknown>;
  /** Give up after this long, in ms (default 5 minutes): a FlowRunnerError `timeout`; the execution goes on. */
  timeoutMs?: number;
  /** Default: a fresh one, so that the start's retries never start it twice. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
/** The server holds a wait up to 25 s by default (30 at most). */
const WAIT_SECONDS = 25;

export class FlowRunnerClient {
  readonly auth: AuthApi;
  readonly users: UsersApi;
  readonly apiKeys: APIKeysApi;
  readonly accounts: Accounts;
  readonly secrets: SecretsApi;
  readonly connections: ConnectionsApi;
  readonly organizations: OrganizationsApi;
  readonly flows: Flows;
  readonly flowRequests: FlowRequestsApi;
  readonly files: FilesApi;
  readonly events: EventsApi;
  readonly nodeTypes: NodeTypesApi;
  readonly executions: Executions;
  readonly runs: Runs;
  readonly humanInTheLoop: HumanInTheLoopApi;
  readonly sharing: SharingApi;
  readonly listeners: ListenersApi;
  readonly packages: PackagesApi;
  readonly meta: MetaApi;
  readonly schedules: SchedulesApi;
  readonly webhooks: WebhooksApi;
  /** The axios instance the APIs use (its interceptors are yours too). */
  readonly axios: AxiosInstance;
  readonly baseUrl: string;
  readonly #follow: Omit<FollowOptions, 'executionId'>;

  constructor(options: FlowRunnerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const { token, apiKey, getToken } = options;
    // Credentials live in closures: printing the client or an API object shows no secret.
    const configuration = new Configuration({
      basePath: this.baseUrl,
      ...(getToken ? { accessToken: async () => getToken() } : token ? { accessToken: () => token } : {}),
      ...(apiKey ? { apiKey: () => apiKey } : {}),
    });
    this.axios = createTransport(
      { ...options.axios, ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}) },
      options.retry,
    );
    const make = <T>(Api: new (c: Configuration, base: string, ax: AxiosInstance) => T) =>
      new Api(configuration, this.baseUrl, this.axios);
    this.auth = make(AuthApi);
    this.users = make(UsersApi);
    this.apiKeys = make(APIKeysApi);
    this.accounts = make(Accounts);
    this.secrets = make(SecretsApi);
    this.connections = make(ConnectionsApi);
    this.organizations = make(OrganizationsApi);
    this.flows = make(Flows);
    this.flowRequests = make(FlowRequestsApi);
    this.files = make(FilesApi);
    this.events = make(EventsApi);
    this.nodeTypes = make(NodeTypesApi);
    this.executions = make(Executions);
    this.runs = make(Runs);
    this.humanInTheLoop = make(HumanInTheLoopApi);
    this.sharing = make(SharingApi);
    this.listeners = make(ListenersApi);
    this.packages = make(PackagesApi);
    this.meta = make(MetaApi);
    this.schedules = make(SchedulesApi);
    this.webhooks = make(WebhooksApi);
    this.#follow = {
      baseUrl: this.baseUrl,
      ...(getToken ? { getToken } : token ? { token } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    };
  }

  /**
   * Every event of an execution over WebSocket (after `since`), resuming after the last seq on a
   * reconnect; resolves with the final event. A 401, 403 or 404 fails at once.
   */
  followExecution(
    executionId: string,
    options: Omit<FollowOptions, 'baseUrl' | 'executionId' | 'token' | 'apiKey' | 'getToken'> = {},
  ): Promise<FinalEvent> {
    return followExecution({ ...this.#follow, ...options, executionId });
  }

  /**
   * Starts the flow and resolves with the finished execution (completed, failed or cancelled):
   * the start waits up to 25 s (`Prefer: wait`), then long polls of the execution take over.
   */
  async runAndWait(flowId: string, options: RunAndWaitOptions = {}): Promise<Execution> {
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    const wait = () => `wait=${Math.max(1, Math.min(WAIT_SECONDS, Math.ceil((deadline - Date.now()) / 1000)))}`;
    const config = options.signal ? { signal: options.signal } : {};
    const started = await this.executions.runFlow(
      {
        id: flowId,
        runFlowRequest: { input: options.input ?? {} },
        idempotencyKey: options.idempotencyKey ?? newIdempotencyKey(),
        prefer: wait(),
      },
      config,
    );
    if (started.status === 200 && FINISHED.has(started.data.status)) {
      const { execution_id: _id, ...execution } = started.data;
      return execution;
    }
    const id = started.data.execution_id;
    while (Date.now() < deadline) {
      const { data } = await this.executions.getExecution({ id, prefer: wait() }, config);
      if (FINISHED.has(data.status)) return data;
    }
    throw new FlowRunnerError({
      status: 0,
      code: 'timeout',
      message: `Execution ${id} had not finished after ${options.timeoutMs ?? 300_000} ms (it goes on)`,
      path: `/api/v1/executions/${id}`,
    });
  }
}
