/**
 * The CommonJS side of the integrator: `require` of the packed client, compiled strictly
 * (verbatimModuleSyntax), run against a live server. Prints one JSON line.
 */
import flowrunner = require('@flowrunner/client');
import type { Execution } from '@flowrunner/client';

const baseUrl = process.env['FLOWRUNNER_URL'] ?? 'http://localhost:8080';

async function main(): Promise<void> {
  const anonymous = new flowrunner.FlowRunnerClient({ baseUrl });
  const { data: login } = await anonymous.auth.login({
    loginRequest: {
      username: process.env['FLOWRUNNER_EMAIL'] ?? '',
      password: process.env['FLOWRUNNER_PASSWORD'] ?? '',
    },
  });
  const client = new flowrunner.FlowRunnerClient({ baseUrl, getToken: async () => login.token });
  const { data: flow } = await client.flows.createFlow({
    flowCreate: {
      name: `integrator-cjs-${Date.now()}`,
      definition: 'nodes:\n  start:\n    type: transform\n    params: {expression: "6 * 7"}\n',
    },
  });
  const finished: Execution = await client.runAndWait(flow.id);
  let code = '';
  try {
    await client.executions.getExecution({ id: 'exec-missing' });
  } catch (err) {
    if (err instanceof flowrunner.FlowRunnerError) code = err.code;
  }
  console.log(JSON.stringify({ status: finished.status, result: finished.result, code }));
}

main().catch((err: unknown) => {
  console.error(String(err));
  process.exit(1);
});
