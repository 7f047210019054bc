/**
 * Object-level authorization, table-driven: every operation of the spec × every organization role
 * (owner, editor, runner, viewer) × the caller's own organization and another one, asserting the
 * status. In another organization everything is 404 (its objects are not revealed); in its own,
 * a role that may do the operation gets a 2xx and one that may not gets 403.
 *
 * The operations come from the spec (generated/openapi.json), so a new operation fails this test
 * until it has a row in TABLE below saying what it needs (`read`, `run`, `edit`, `manage` in the
 * object's organization, or `outside` with the reason it is not an organization's) and how to
 * call it. Operations without security (login, webhooks' and callbacks' secret URLs, meta) have
 * no caller to authorize and need no row.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { eventually } from '../support/eventually';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { operations } from '../support/spec-requests';
import { roleAllows, type OrganizationAction, type OrganizationRole } from '../../src/services/ownership';

const LOG_FLOW = 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n';
const WAIT_FLOW = `navigation:
  - {label: Skip to the end, node: done}
nodes:
  start:
    type: log
    params: {message: hi}
    next: review
  review:
    type: input
    params: {outcomes: [{name: ok}]}
    next: {ok: done}
  done:
    type: transform
    params: {expression: "'done'"}
`;
const APPROVAL_FLOW =
  'approval: {required: true}\nnodes:\n  start:\n    type: transform\n    params: {expression: "1"}\n';
const ROLES: OrganizationRole[] = ['owner', 'editor', 'runner', 'viewer'];
const HOOK = 'https://example.com/listener';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

interface Req {
  path?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** Another credential than the case's account's token (a throwaway one, for logout). */
  token?: string;
}

/** One organization's side of a case: the organization, its owner and its standing objects. */
interface Side {
  org: string;
  owner: TestAccount;
  fx: Fixtures;
}

interface Fixtures {
  flow: string;
  waitFlow: string;
  approvalFlow: string;
  /** A completed execution of `flow`. */
  done: string;
  /** An execution of `waitFlow` waiting at `review`, with a value `k`. */
  waiting: string;
  schedule: string;
  webhook: string;
  flowRequest: string;
  connection: string;
  file: string;
  /** A member (viewer) whose role the owner "changes". */
  member: string;
}

/** What a case may use: raw calls, fresh objects, accounts. */
interface Tools {
  call(token: string, method: string, path: string, body?: unknown): Promise<Answer>;
  /** A fresh execution of `flow` in the side's organization, once it has `status`. */
  execution(side: Side, flow: string, status: string): Promise<string>;
  account(): Promise<TestAccount>;
  caller: TestAccount;
}

type Needs = OrganizationAction | { outside: string };

interface Row {
  needs: Needs;
  request(side: Side, t: Tools): Promise<Req> | Req;
}

const unique = () => crypto.randomBytes(4).toString('hex');
const made = async (a: Promise<Answer>, what: string): Promise<Record<string, unknown>> => {
  const r = await a;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

const fresh = {
  async flow(s: Side, t: Tools) {
    const body = { name: `f-${unique()}`, definition: LOG_FLOW, organization_id: s.org };
    return (await made(t.call(s.owner.token, 'POST', '/api/v1/flows', body), 'flow')).id as string;
  },
  async listener(s: Side, t: Tools, path: string) {
    return (await made(t.call(s.owner.token, 'POST', path, { url: HOOK }), 'listener')).id as string;
  },
  async connection(s: Side, t: Tools) {
    const body = { name: `c-${unique()}`, type: 'bearer', bearer: { token: 't' }, organization_id: s.org };
    return (await made(t.call(s.owner.token, 'POST', '/api/v1/connections', body), 'connection')).id as string;
  },
  async file(s: Side, t: Tools) {
    const path = `/api/v1/files?name=f.json&organization_id=${encodeURIComponent(s.org)}`;
    return (await made(t.call(s.owner.token, 'POST', path, { n: 1 }), 'file')).id as string;
  },
  /**
   * A new team organization of the side's owner where the caller has the role it has in the
   * side's organization (none when it is no member there): one the caller may try to delete.
   */
  async organizationLike(s: Side, t: Tools) {
    const org = (await made(t.call(s.owner.token, 'POST', '/api/v1/organizations', { name: 'Doomed' }), 'org'))
      .id as string;
    if (t.caller.account.id === s.owner.account.id) return org;
    const seen = await t.call(t.caller.token, 'GET', `/api/v1/organizations/${s.org}`);
    if (seen.status === 200) {
      const body = { account_id: t.caller.account.id, role: seen.body.role };
      await made(t.call(s.owner.token, 'POST', `/api/v1/organizations/${org}/members`, body), 'member');
    }
    return org;
  },
  /** A pending invitation of the caller's email into a new organization of another account. */
  async invitationOf(t: Tools) {
    const inviter = await t.account();
    const org = (await made(t.call(inviter.token, 'POST', '/api/v1/organizations', { name: 'Inviting' }), 'org'))
      .id as string;
    const body = { email: t.caller.account.email, role: 'viewer' };
    return (await made(t.call(inviter.token, 'POST', `/api/v1/organizations/${org}/invitations`, body), 'invitation'))
      .id as string;
  },
  /** A cancelled execution of the side's waiting flow (one to retry). */
  async cancelled(s: Side, t: Tools) {
    const id = await t.execution(s, s.fx.waitFlow, 'waiting');
    await made(t.call(s.owner.token, 'DELETE', `/api/v1/executions/${id}`), 'cancel');
    await eventually(
      async () => {
        const { body } = await t.call(s.owner.token, 'GET', `/api/v1/executions/${id}`);
        if (body.status !== 'cancelled') throw new Error(`status ${String(body.status)}`);
      },
      { timeout: 20_000, what: `execution ${id} to be cancelled` },
    );
    return id;
  },
};

/** Every secured operation of the spec: what it needs and a request for one side's objects. */
const TABLE: Record<string, Row> = {
  // Auth and the caller's own account: about the caller, not about an organization's objects.
  refreshToken: { needs: { outside: "the caller's own token" }, request: (_s, t) => ({ token: tokenOf(t) }) },
  logout: { needs: { outside: "the caller's own token" }, request: (_s, t) => ({ token: tokenOf(t) }) },
  getCurrentUser: { needs: { outside: 'the caller' }, request: () => ({}) },
  provisionCurrentUser: { needs: { outside: 'the caller' }, request: () => ({ body: {} }) },
  listApiKeys: { needs: { outside: "the caller's keys" }, request: () => ({}) },
  createApiKey: { needs: { outside: "the caller's keys" }, request: () => ({ body: { name: 'k' } }) },
  deleteApiKey: { needs: { outside: "the caller's keys" }, request: () => ({ path: { id: 'key-none' } }) },
  listAccounts: { needs: { outside: 'accounts are an admin matter' }, request: () => ({}) },
  createAccount: {
    needs: { outside: 'accounts are an admin matter' },
    request: () => ({ body: { name: 'n', email: `${unique()}@example.com`, password: 'password-123' } }),
  },
  getAccount: {
    needs: { outside: 'accounts are an admin matter' },
    request: () => ({ path: { id: stranger.account.id } }),
  },
  updateAccount: {
    needs: { outside: 'accounts are an admin matter' },
    request: () => ({ path: { id: stranger.account.id }, body: { name: 'n' } }),
  },
  deleteAccount: {
    needs: { outside: 'accounts are an admin matter' },
    request: () => ({ path: { id: stranger.account.id } }),
  },
  listSecrets: {
    needs: { outside: "an account's secrets are its personal organization's, which has no other members" },
    request: () => ({ path: { account_id: stranger.account.id } }),
  },
  putSecret: {
    needs: { outside: "an account's secrets are its personal organization's, which has no other members" },
    request: () => ({ path: { account_id: stranger.account.id }, body: { key: 'K', value: 'v' } }),
  },
  deleteSecret: {
    needs: { outside: "an account's secrets are its personal organization's, which has no other members" },
    request: () => ({ path: { account_id: stranger.account.id, key: 'K' } }),
  },
  listNodeTypes: { needs: { outside: 'the catalog is the same for everyone' }, request: () => ({}) },
  getNodeType: {
    needs: { outside: 'the catalog is the same for everyone' },
    request: () => ({ path: { type: 'log' } }),
  },
  importExecution: {
    needs: { outside: "an import goes into the caller's personal organization" },
    request: () => ({ body: { format: 'flowrunner.execution/v1' } }),
  },
  postEvent: {
    needs: { outside: 'it resumes waiting executions in every organization where the caller may run' },
    request: () => ({ body: { name: 'e', correlation: 'c' } }),
  },
  listOrganizations: { needs: { outside: "the caller's organizations" }, request: () => ({}) },
  createOrganization: { needs: { outside: 'a new organization' }, request: () => ({ body: { name: 'Team' } }) },
  listMyInvitations: { needs: { outside: "the invitations addressed to the caller's email" }, request: () => ({}) },
  acceptInvitation: {
    needs: { outside: "an invitation addressed to the caller's email, into an organization it is no member of" },
    request: async (_s, t) => ({ path: { id: await fresh.invitationOf(t) } }),
  },
  declineInvitation: {
    needs: { outside: "an invitation addressed to the caller's email, into an organization it is no member of" },
    request: async (_s, t) => ({ path: { id: await fresh.invitationOf(t) } }),
  },

  // Organizations and members.
  getOrganization: { needs: 'read', request: (s) => ({ path: { id: s.org } }) },
  updateOrganization: { needs: 'manage', request: (s) => ({ path: { id: s.org }, body: { name: 'Renamed' } }) },
  listOrganizationMembers: { needs: 'read', request: (s) => ({ path: { id: s.org } }) },
  addOrganizationMember: {
    needs: 'manage',
    request: async (s, t) => ({
      path: { id: s.org },
      body: { account_id: (await t.account()).account.id, role: 'viewer' },
    }),
  },
  updateOrganizationMember: {
    needs: 'manage',
    request: (s) => ({ path: { id: s.org, account_id: s.fx.member }, body: { role: 'viewer' } }),
  },
  deleteOrganization: {
    needs: 'manage',
    request: async (s, t) => ({ path: { id: await fresh.organizationLike(s, t) } }),
  },
  listOrganizationInvitations: { needs: 'edit', request: (s) => ({ path: { id: s.org } }) },
  createOrganizationInvitation: {
    needs: 'edit',
    request: (s) => ({ path: { id: s.org }, body: { email: `${unique()}@example.com`, role: 'viewer' } }),
  },
  revokeOrganizationInvitation: {
    needs: 'edit',
    request: async (s, t) => {
      const body = { email: `${unique()}@example.com`, role: 'viewer' };
      const inv = await made(t.call(s.owner.token, 'POST', `/api/v1/organizations/${s.org}/invitations`, body), 'inv');
      return { path: { id: s.org, invitation_id: inv.id as string } };
    },
  },
  removeOrganizationMember: {
    needs: 'manage',
    request: async (s, t) => {
      const a = await t.account();
      await made(
        t.call(s.owner.token, 'POST', `/api/v1/organizations/${s.org}/members`, {
          account_id: a.account.id,
          role: 'viewer',
        }),
        'member',
      );
      return { path: { id: s.org, account_id: a.account.id } };
    },
  },

  // Flows and what hangs on them.
  listFlows: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  createFlow: {
    needs: 'edit',
    request: (s) => ({ body: { name: `f-${unique()}`, definition: LOG_FLOW, organization_id: s.org } }),
  },
  getFlow: { needs: 'read', request: (s) => ({ path: { id: s.fx.flow } }) },
  setFlowLiveVersion: { needs: 'edit', request: (s) => ({ path: { id: s.fx.flow }, body: { version: 1 } }) },
  updateFlow: { needs: 'edit', request: (s) => ({ path: { id: s.fx.flow }, body: { description: unique() } }) },
  deleteFlow: { needs: 'edit', request: async (s, t) => ({ path: { id: await fresh.flow(s, t) } }) },
  listFlowVersions: { needs: 'read', request: (s) => ({ path: { id: s.fx.flow } }) },
  getFlowVersion: { needs: 'read', request: (s) => ({ path: { id: s.fx.flow, version: '1' } }) },
  runFlow: { needs: 'run', request: (s) => ({ path: { id: s.fx.flow }, body: {} }) },
  listFlowListeners: { needs: 'read', request: (s) => ({ path: { id: s.fx.flow } }) },
  createFlowListener: { needs: 'edit', request: (s) => ({ path: { id: s.fx.flow }, body: { url: HOOK } }) },
  deleteFlowListener: {
    needs: 'edit',
    request: async (s, t) => ({
      path: { id: s.fx.flow, listener_id: await fresh.listener(s, t, `/api/v1/flows/${s.fx.flow}/listeners`) },
    }),
  },
  listWebhooks: { needs: 'read', request: (s) => ({ path: { id: s.fx.flow } }) },
  createWebhook: { needs: 'edit', request: (s) => ({ path: { id: s.fx.flow }, body: {} }) },
  getWebhook: { needs: 'read', request: (s) => ({ path: { id: s.fx.flow, webhook_id: s.fx.webhook } }) },
  updateWebhook: {
    needs: 'edit',
    request: (s) => ({ path: { id: s.fx.flow, webhook_id: s.fx.webhook }, body: { enabled: true } }),
  },
  deleteWebhook: {
    needs: 'edit',
    request: async (s, t) => {
      const hook = await made(t.call(s.owner.token, 'POST', `/api/v1/flows/${s.fx.flow}/webhooks`, {}), 'webhook');
      return { path: { id: s.fx.flow, webhook_id: hook.id as string } };
    },
  },
  rotateWebhookToken: { needs: 'edit', request: (s) => ({ path: { id: s.fx.flow, webhook_id: s.fx.webhook } }) },
  listWebhookDeliveries: { needs: 'read', request: (s) => ({ path: { id: s.fx.flow, webhook_id: s.fx.webhook } }) },

  // Flow requests.
  listFlowRequests: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  createFlowRequest: { needs: 'edit', request: (s) => ({ body: { instructions: 'do it', organization_id: s.org } }) },
  getFlowRequest: { needs: 'read', request: (s) => ({ path: { id: s.fx.flowRequest } }) },
  updateFlowRequest: { needs: 'edit', request: (s) => ({ path: { id: s.fx.flowRequest }, body: { name: 'r' } }) },
  deleteFlowRequest: {
    needs: 'edit',
    request: async (s, t) => {
      const body = { instructions: 'x', organization_id: s.org };
      return {
        path: {
          id: (await made(t.call(s.owner.token, 'POST', '/api/v1/flow-requests', body), 'request')).id as string,
        },
      };
    },
  },

  // Executions and runs.
  listExecutions: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  getExecution: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  cancelExecution: {
    needs: 'run',
    request: async (s, t) => ({ path: { id: await t.execution(s, s.fx.waitFlow, 'waiting') } }),
  },
  getExecutionLogs: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  getExecutionSteps: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  getExecutionEvents: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  getExecutionDefinition: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  approveExecution: {
    needs: 'run',
    request: async (s, t) => ({ path: { id: await t.execution(s, s.fx.approvalFlow, 'waiting') }, body: {} }),
  },
  rejectExecution: {
    needs: 'run',
    request: async (s, t) => ({ path: { id: await t.execution(s, s.fx.approvalFlow, 'waiting') }, body: {} }),
  },
  signalExecution: {
    needs: 'run',
    request: async (s, t) => ({
      path: { id: await t.execution(s, s.fx.waitFlow, 'waiting') },
      body: { node_id: 'review', outcome: 'ok' },
    }),
  },
  getExecutionValues: { needs: 'read', request: (s) => ({ path: { id: s.fx.waiting } }) },
  setExecutionValues: { needs: 'run', request: (s) => ({ path: { id: s.fx.waiting }, body: { values: { k: 1 } } }) },
  getExecutionValue: { needs: 'read', request: (s) => ({ path: { id: s.fx.waiting, name: 'k' } }) },
  setExecutionValue: { needs: 'run', request: (s) => ({ path: { id: s.fx.waiting, name: 'k' }, body: { value: 1 } }) },
  purgeExecution: {
    needs: 'edit',
    request: async (s, t) => ({ path: { id: await t.execution(s, s.fx.flow, 'completed') } }),
  },
  getExecutionNavigation: { needs: 'read', request: (s) => ({ path: { id: s.fx.waiting } }) },
  navigateExecution: {
    needs: 'run',
    request: async (s, t) => ({ path: { id: await t.execution(s, s.fx.waitFlow, 'waiting') }, body: { node: 'done' } }),
  },
  getExecutionGraph: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  listExecutionShares: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  shareExecution: {
    needs: 'edit',
    request: async (s, t) => ({ path: { id: s.fx.done }, body: { account_id: (await t.account()).account.id } }),
  },
  unshareExecution: {
    needs: 'edit',
    request: async (s, t) => {
      const a = await t.account();
      await made(
        t.call(s.owner.token, 'POST', `/api/v1/executions/${s.fx.done}/share`, { account_id: a.account.id }),
        'share',
      );
      return { path: { id: s.fx.done, account_id: a.account.id } };
    },
  },
  listExecutionListeners: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  createExecutionListener: { needs: 'edit', request: (s) => ({ path: { id: s.fx.done }, body: { url: HOOK } }) },
  deleteExecutionListener: {
    needs: 'edit',
    request: async (s, t) => ({
      path: { id: s.fx.done, listener_id: await fresh.listener(s, t, `/api/v1/executions/${s.fx.done}/listeners`) },
    }),
  },
  exportExecution: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },
  listRuns: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  startRun: { needs: 'run', request: (s) => ({ body: { flow_id: s.fx.flow } }) },
  getRun: { needs: 'read', request: (s) => ({ path: { run_id: s.fx.done } }) },
  getRunDefinition: { needs: 'read', request: (s) => ({ path: { run_id: s.fx.done } }) },
  cancelRun: {
    needs: 'run',
    request: async (s, t) => ({ path: { run_id: await t.execution(s, s.fx.waitFlow, 'waiting') } }),
  },

  retryExecution: {
    needs: 'run',
    request: async (s, t) => ({ path: { id: await fresh.cancelled(s, t) }, body: {} }),
  },
  rerunExecution: { needs: 'run', request: (s) => ({ path: { id: s.fx.done }, body: {} }) },
  retryRun: {
    needs: 'run',
    request: async (s, t) => ({ path: { run_id: await fresh.cancelled(s, t) }, body: {} }),
  },
  listExecutionFiles: { needs: 'read', request: (s) => ({ path: { id: s.fx.done } }) },

  // An organization's secrets (read by its executions, whoever starts them).
  listOrganizationSecrets: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  putOrganizationSecret: {
    needs: 'edit',
    request: (s) => ({ body: { organization_id: s.org, key: 'TEAM_KEY', value: 'v' } }),
  },
  deleteOrganizationSecret: {
    needs: 'edit',
    request: async (s, t) => {
      const key = `K_${unique().toUpperCase()}`;
      await made(
        t.call(s.owner.token, 'POST', '/api/v1/secrets', { organization_id: s.org, key, value: 'v' }),
        'secret',
      );
      return { path: { key }, query: { organization_id: s.org } };
    },
  },

  // Connections (found by name among the connections of the execution's organization when a flow runs).
  listConnections: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  createConnection: {
    needs: 'edit',
    request: (s) => ({
      body: { name: `c-${unique()}`, type: 'bearer', bearer: { token: 't' }, organization_id: s.org },
    }),
  },
  getConnection: { needs: 'read', request: (s) => ({ path: { id: s.fx.connection } }) },
  updateConnection: {
    needs: 'edit',
    request: (s) => ({ path: { id: s.fx.connection }, body: { description: unique() } }),
  },
  deleteConnection: { needs: 'edit', request: async (s, t) => ({ path: { id: await fresh.connection(s, t) } }) },

  // Files.
  listFiles: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  uploadFile: {
    needs: 'edit',
    request: (s) => ({ query: { name: 'f.json', organization_id: s.org }, body: { n: 1 } }),
  },
  getFile: { needs: 'read', request: (s) => ({ path: { id: s.fx.file } }) },
  downloadFile: { needs: 'read', request: (s) => ({ path: { id: s.fx.file } }) },
  deleteFile: { needs: 'edit', request: async (s, t) => ({ path: { id: await fresh.file(s, t) } }) },

  // Schedules.
  listSchedules: { needs: 'read', request: (s) => ({ query: { organization: s.org } }) },
  createSchedule: { needs: 'edit', request: (s) => ({ body: { flow_id: s.fx.flow, interval_seconds: 3600 } }) },
  getSchedule: { needs: 'read', request: (s) => ({ path: { id: s.fx.schedule } }) },
  updateSchedule: { needs: 'edit', request: (s) => ({ path: { id: s.fx.schedule }, body: { input: {} } }) },
  deleteSchedule: {
    needs: 'edit',
    request: async (s, t) => {
      const body = { flow_id: s.fx.flow, interval_seconds: 3600 };
      return {
        path: { id: (await made(t.call(s.owner.token, 'POST', '/api/v1/schedules', body), 'schedule')).id as string },
      };
    },
  },
  pauseSchedule: { needs: 'edit', request: (s) => ({ path: { id: s.fx.schedule }, body: {} }) },
  resumeSchedule: { needs: 'edit', request: (s) => ({ path: { id: s.fx.schedule } }) },
  listScheduleFires: { needs: 'read', request: (s) => ({ path: { id: s.fx.schedule } }) },
  backfillSchedule: {
    needs: 'edit',
    request: (s) => {
      const to = new Date(Date.now() - 60_000);
      return {
        path: { id: s.fx.schedule },
        body: { from: new Date(to.getTime() - 1000).toISOString(), to: to.toISOString() },
      };
    },
  },
};

/** A throwaway token of the case's account (logout revokes it). */
function tokenOf(t: Tools): string {
  return issue(t.caller.account.id);
}
let issue: (accountId: string) => string;
/** An account no caller is, for the operations on accounts: each caller gets the same answer. */
let stranger: TestAccount;

describe('authorization: every operation × every role × own and other organization', function () {
  this.timeout(600_000);
  let server: TestServer;
  let own: Side;
  let other: Side;
  const members = new Map<OrganizationRole, TestAccount>();

  async function call(token: string, method: string, path: string, body?: unknown): Promise<Answer> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!text) return { status: res.status, body: {} };
    try {
      return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
    } catch {
      return { status: res.status, body: { text } }; // a download's bytes
    }
  }

  const tools = (caller: TestAccount): Tools => ({
    call,
    caller,
    account: () => makeAccount(server),
    async execution(side, flow, status) {
      const started = await made(call(side.owner.token, 'POST', `/api/v1/flows/${flow}/run`, {}), 'execution');
      const id = started.execution_id as string;
      await eventually(
        async () => {
          const { body } = await call(side.owner.token, 'GET', `/api/v1/executions/${id}`);
          if (body.status !== status) throw new Error(`status ${String(body.status)}`);
        },
        { timeout: 20_000, what: `execution ${id} to be ${status}` },
      );
      return id;
    },
  });

  async function side(owner: TestAccount, name: string): Promise<Side> {
    const t = tools(owner);
    const org = (await made(call(owner.token, 'POST', '/api/v1/organizations', { name }), 'organization')).id as string;
    const s: Side = { org, owner, fx: {} as Fixtures };
    const flowIn = async (definition: string) =>
      (
        await made(
          call(owner.token, 'POST', '/api/v1/flows', { name: `f-${unique()}`, definition, organization_id: org }),
          'flow',
        )
      ).id as string;
    s.fx.flow = await flowIn(LOG_FLOW);
    s.fx.waitFlow = await flowIn(WAIT_FLOW);
    s.fx.approvalFlow = await flowIn(APPROVAL_FLOW);
    s.fx.done = await t.execution(s, s.fx.flow, 'completed');
    s.fx.waiting = await t.execution(s, s.fx.waitFlow, 'waiting');
    await made(call(owner.token, 'PUT', `/api/v1/executions/${s.fx.waiting}/values`, { values: { k: 1 } }), 'values');
    s.fx.schedule = (
      await made(
        call(owner.token, 'POST', '/api/v1/schedules', { flow_id: s.fx.flow, interval_seconds: 3600 }),
        'schedule',
      )
    ).id as string;
    s.fx.webhook = (await made(call(owner.token, 'POST', `/api/v1/flows/${s.fx.flow}/webhooks`, {}), 'webhook'))
      .id as string;
    s.fx.flowRequest = (
      await made(
        call(owner.token, 'POST', '/api/v1/flow-requests', { instructions: 'x', organization_id: org }),
        'request',
      )
    ).id as string;
    s.fx.connection = await fresh.connection(s, t);
    s.fx.file = await fresh.file(s, t);
    const member = await makeAccount(server);
    await made(
      call(owner.token, 'POST', `/api/v1/organizations/${org}/members`, {
        account_id: member.account.id,
        role: 'viewer',
      }),
      'member',
    );
    s.fx.member = member.account.id;
    return s;
  }

  before(async () => {
    server = await startTestServer();
    issue = (id) => server.services.auth.issueToken(id).token;
    stranger = await makeAccount(server);
    const owner = await makeAccount(server);
    own = await side(owner, 'Own team');
    other = await side(await makeAccount(server), 'Other team');
    members.set('owner', owner);
    for (const role of ['editor', 'runner', 'viewer'] as const) {
      const a = await makeAccount(server);
      await made(
        call(owner.token, 'POST', `/api/v1/organizations/${own.org}/members`, { account_id: a.account.id, role }),
        role,
      );
      members.set(role, a);
    }
  });
  after(() => server?.close());

  const secured = operations.filter((op) => !op.public);

  it('has a row for every secured operation of the spec', () => {
    const missing = secured.map((op) => op.operationId).filter((id) => !(id in TABLE));
    expect(
      missing,
      `add a row for ${missing.join(', ')} to TABLE in test/api/authorization.test.ts (what it needs in the object's organization and how to call it)`,
    ).to.deep.equal([]);
    const stale = Object.keys(TABLE).filter((id) => !secured.some((op) => op.operationId === id));
    expect(stale, 'rows of operations the spec no longer has').to.deep.equal([]);
  });

  for (const op of secured) {
    it(`${op.operationId} (${op.method} ${op.path})`, async function () {
      const row = TABLE[op.operationId];
      if (!row) this.skip(); // the test above fails and says which row to add
      const seen = new Map<string, number>();
      for (const role of ROLES) {
        for (const where of ['own', 'other'] as const) {
          const caller = members.get(role)!;
          const target = where === 'own' ? own : other;
          const req = await row.request(target, tools(caller));
          const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) =>
            encodeURIComponent(req.path?.[name] ?? 'x'),
          );
          const qs = new URLSearchParams(req.query ?? {}).toString();
          const answer = await call(req.token ?? caller.token, op.method, qs ? `${path}?${qs}` : path, req.body);
          const what = `${role} in ${where} organization: ${answer.status} ${JSON.stringify(answer.body)}`;
          expect(answer.status, what).to.be.below(500);
          expect(op.statuses.has(answer.status), `${what} is not a status the spec declares`).to.equal(true);
          if (typeof row.needs === 'object') {
            seen.set(`${role}/${where}`, answer.status);
            continue;
          }
          if (where === 'other') expect(answer.status, what).to.equal(404);
          else if (roleAllows(role, row.needs)) expect(answer.status, what).to.be.within(200, 299);
          else expect(answer.status, what).to.equal(403);
        }
      }
      // An operation outside organizations answers the same whatever the caller's role.
      if (typeof row.needs === 'object') expect(new Set(seen.values()).size, JSON.stringify([...seen])).to.equal(1);
    });
  }
});
