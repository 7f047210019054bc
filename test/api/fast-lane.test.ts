/**
 * The fast lane (src/http/fast-lane.ts) answers its operations as express-openapi-validator would:
 * the same generated requests as the fuzz test (valid ones and hostile mutations) go to two servers
 * on one database, one with the lane and one without (FLOWRUNNER_FAST_LANE=false), and must get
 * the same status, error code, message and field. Successful answers are compared by status class
 * (a run-and-wait may finish in time on one and not on the other) and are checked against the spec
 * by both servers (FLOWRUNNER_VALIDATE_RESPONSES).
 */
import { expect } from 'chai';
import express from 'express';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorHandler } from '../../src/http/error-handler';
import { FAST_OPERATIONS, fastLane } from '../../src/http/fast-lane';
import { operationRoutes } from '../../src/http/router';
import { createLogger } from '../../src/log';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { operations, requestFor, send, VALID_DEFINITION, type Answer, type KnownIds } from '../support/spec-requests';

const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

/** What must agree: the status (its class for a success), and an error's code, message and field. */
function verdict(res: Answer): unknown {
  if (res.status < 400) return { status: `${Math.floor(res.status / 100)}xx` };
  if (res.body === '') return { status: res.status }; // HEAD: no body
  const { error } = JSON.parse(res.body) as {
    error: { code: string; message: string; details: { field?: string; reason?: string } | null };
  };
  // A JSON syntax error's reason is the parser's own wording; its code and message are ours.
  return { status: res.status, code: error.code, message: error.message, field: error.details?.field };
}

describe('the fast lane', function () {
  this.timeout(120_000);
  let fast: TestServer;
  let validator: TestServer;
  let owner: TestAccount;
  let ids: KnownIds;
  before(async () => {
    fast = await startTestServer();
    validator = await startTestServer({ FLOWRUNNER_FAST_LANE: 'false' });
    owner = await makeAccount(fast);
    const flow = await makeFlow(owner, VALID_DEFINITION);
    const { data } = await owner.client.executions.runFlow({ id: flow, runFlowRequest: { input: {} } });
    ids = { id: [flow, data.execution_id], run_id: [data.execution_id] };
  });
  after(async () => {
    await fast.close();
    await validator.close();
  });

  it('takes the start and read operations of the engine benchmark', () => {
    expect(FAST_OPERATIONS).to.have.members(['runFlow', 'startRun', 'getExecution', 'getRun']);
  });

  for (const operationId of FAST_OPERATIONS) {
    const op = operations.find((o) => o.operationId === operationId)!;
    it(`${op.method} ${op.path}: the same answer with and without it, for valid and hostile requests`, async () => {
      await fc.assert(
        fc.asyncProperty(requestFor(op, ids), async ({ request, mutation }) => {
          request.headers.authorization = `Bearer ${owner.token}`;
          const key = request.headers['Idempotency-Key'];
          // A key used on one server would be a replay on the other: each gets its own.
          const on = (suffix: string) =>
            key === undefined
              ? request
              : { ...request, headers: { ...request.headers, 'Idempotency-Key': key + suffix } };
          const [a, b] = await Promise.all([send(fast.url, on('f')), send(validator.url, on('v'))]);
          const what = `${request.method} ${request.path} (${mutation}) ${request.body?.slice(0, 200) ?? ''}\n fast: ${a.status} ${a.body.slice(0, 300)}\n validator: ${b.status} ${b.body.slice(0, 300)}`;
          expect(a.status, what).to.be.below(500);
          expect(verdict(a), what).to.deep.equal(verdict(b));
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    });
  }

  it('refuses a response the spec does not allow when responses are validated (a 500, as the validator does)', async () => {
    const routes = operationRoutes({
      // A handler that answers a body the spec's Run does not have.
      getRun: async () => ({ status: 200, body: { bogus: true } as never }),
    });
    const app = express();
    app.use(fastLane(routes, { validateResponses: true }));
    app.use(errorHandler(createLogger('silent')));
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await send(`http://127.0.0.1:${port}`, {
        method: 'GET',
        path: '/api/v1/runs/exec-1',
        headers: {},
      });
      expect(res.status).to.equal(500);
      expect(JSON.parse(res.body).error.code).to.equal('internal_error');
    } finally {
      server.close();
    }
  });
});
