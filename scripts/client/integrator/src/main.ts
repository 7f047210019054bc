/**
 * An integrator's program, compiled strictly against the packed @flowrunner/client and run
 * against a live server (test/e2e/client-package.test.ts). Prints one JSON line that the test
 * checks; exits non-zero on any failure.
 */
import { inspect } from 'node:util';
import {
  FlowRunnerClient,
  FlowRunnerError,
  isFlowRunnerError,
  type ExecutionEvent,
  type ExecutionStatus,
  type WebSocketConstructor,
} from '@flowrunner/client';
import WebSocket from 'ws';

const baseUrl = process.env['FLOWRUNNER_URL'] ?? 'http://localhost:8080';
const username = process.env['FLOWRUNNER_EMAIL'] ?? '';
const password = process.env['FLOWRUNNER_PASSWORD'] ?? '';
const WS = WebSocket as unknown as WebSocketConstructor;

function printedForms(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  return [
    String(err),
    JSON.stringify(err),
    inspect(err, { depth: 10 }),
    inspect(cause, { depth: 10 }),
    (err as Error).stack,
  ].join('\n');
}

async function expectError(call: Promise<unknown>): Promise<FlowRunnerError> {
  try {
    await call;
  } catch (err) {
    if (isFlowRunnerError(err)) return err;
    throw err;
  }
  throw new Error('the call succeeded');
}

const anonymous = new FlowRunnerClient({ baseUrl, WebSocket: WS });
const { data: login } = await anonymous.auth.login({ loginRequest: { username, password } });
const asUser = new FlowRunnerClient({ baseUrl, token: login.token });
const { data: key } = await asUser.apiKeys.createApiKey({ apiKeyCreate: { name: 'integrator' } });
const client = new FlowRunnerClient({ baseUrl, apiKey: key.key, WebSocket: WS });

const { data: flow } = await client.flows.createFlow({
  flowCreate: {
    name: `integrator-${Date.now()}`,
    definition:
      'nodes:\n  start:\n    type: delay\n    params: {ms: 200}\n    next: greet\n  greet:\n    type: transform\n    params: {expression: "\'Hello \' & input.name"}\n',
  },
});

// A start with an idempotency key of our own: the same key gives the same execution.
const key42 = `order-${Date.now()}`;
const first = await client.executions.runFlow({
  id: flow.id,
  runFlowRequest: { input: { name: 'Ada' } },
  idempotencyKey: key42,
});
const again = await client.executions.runFlow({
  id: flow.id,
  runFlowRequest: { input: { name: 'Ada' } },
  idempotencyKey: key42,
});
if (first.data.execution_id !== again.data.execution_id) throw new Error('the idempotent start started twice');

// Follow it live with the API key.
const events: ExecutionEvent['type'][] = [];
const last = await client.followExecution(first.data.execution_id, { onEvent: (e) => events.push(e.type) });
if (last.type !== 'execution_completed') throw new Error(`followed to ${last.type}`);

// Run and wait.
const finished = await client.runAndWait(flow.id, { input: { name: 'Grace' } });
const status: ExecutionStatus = finished.status;

// Page through the flow's executions, one per page.
const paged: string[] = [];
for await (const execution of client.executions.list({ flowId: flow.id, limit: 1 })) paged.push(execution.id);

// Errors: the API's code and the request id; never a credential in any printed form.
const missing = await expectError(client.flows.getFlow({ id: 'flow-missing' }));
const secretToken = 'integrator-secret-token-3141';
const badToken = await expectError(new FlowRunnerClient({ baseUrl, token: secretToken }).flows.listFlows());
const secretPassword = 'integrator-wrong-password-2718';
const badLogin = await expectError(anonymous.auth.login({ loginRequest: { username, password: secretPassword } }));
const leaks = [
  printedForms(badToken).includes(secretToken),
  printedForms(badLogin).includes(secretPassword),
  printedForms(missing).includes(key.key),
];
const followMissing = await expectError(client.followExecution('exec-missing'));

console.log(
  JSON.stringify({
    idempotent: first.data.execution_id === again.data.execution_id,
    events,
    result: last.type === 'execution_completed' ? last.result : null,
    runAndWait: { status, result: finished.result },
    paged: paged.length,
    missing: { status: missing.status, code: missing.code, requestId: missing.requestId },
    badToken: { status: badToken.status, code: badToken.code },
    badLogin: { status: badLogin.status, code: badLogin.code },
    followMissing: { status: followMissing.status, code: followMissing.code },
    leaks,
  }),
);
