/**
 * Spec-driven fuzzing: requests generated from the published contract (generated/openapi.json) for
 * every operation, valid ones (from the schemas and their examples) and hostile mutations of them
 * (NUL in the path, query and body keys and values, lone surrogates, nesting thousands deep, YAML
 * alias bombs, integers out of range or written as 1e3/Infinity, impossible dates, malformed
 * percent-encoding, wrong or missing content types, malformed JSON, unknown parameters, a method
 * the path does not have, a body sent chunked or to an operation that takes none, and HTTP/1.1
 * framing Node's parser refuses).
 *
 * Every answer must be no 5xx, a status the spec declares for that operation (not just `default`;
 * a method the path lacks must be 405 with the path's methods in `Allow`, as info.description says),
 * and every error in the `{"error":{"code","message","details"}}` format. The test server validates
 * its responses (FLOWRUNNER_VALIDATE_RESPONSES=true makes an invalid one a 500), so "no 5xx" also
 * means every 2xx body matches the spec.
 *
 * CI runs a fixed seed: FUZZ_RUNS (10) runs per operation, each a batch of FUZZ_BATCH (5) requests
 * sent at once, so 60 operations × 50 = 3,000 requests. A longer random run by hand:
 *   FUZZ_SEED=random FUZZ_RUNS=300 DATABASE_URL=… npx mocha test/api/fuzz.test.ts
 * (FUZZ_SEED=<n> replays a seed a failure printed.)
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { makeAccount, makeFlow, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import {
  operations,
  requestFor,
  send,
  VALID_DEFINITION,
  type KnownIds,
  type Mutation,
  type RawRequest,
} from '../support/spec-requests';

const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10);
const BATCH = Number(process.env.FUZZ_BATCH ?? 5);

describe('fuzzing every operation from the spec', function () {
  this.timeout(120_000);
  let server: TestServer;
  let admin: TestAccount;
  let ids: KnownIds;
  before(async () => {
    server = await startTestServer();
    admin = await makeAccount(server, { role: 'admin' });
    const flow = await makeFlow(admin, VALID_DEFINITION);
    const { data } = await admin.client.executions.runFlow({ id: flow, runFlowRequest: { input: {} } });
    const other = await makeAccount(server);
    // Real ids next to random ones, so operations get past "not found" often.
    ids = {
      id: [flow, data.execution_id],
      run_id: [data.execution_id],
      account_id: [other.account.id],
      type: ['log', 'transform'],
      version: ['1'],
    };
  });
  after(() => server.close());

  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
  after('no request polluted Object.prototype', () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(prototypeBefore);
  });

  it(`covers every operation of the spec (${operations.length}), seed ${SEED}, ${RUNS} runs of ${BATCH} concurrent requests each`, () => {
    expect(operations.length).to.be.greaterThan(50);
  });

  for (const op of operations) {
    it(`${op.method} ${op.path} answers only declared statuses, never 5xx`, async () => {
      /** Sends one generated request and checks its answer. */
      const tryOne = async ({ request: req, mutation }: { request: RawRequest; mutation: Mutation }) => {
        // Logging out or refreshing revokes the token presented: those get a token of their own.
        const token =
          op.operationId === 'logout' || op.operationId === 'refreshToken'
            ? server.services.auth.issueToken(admin.account.id).token
            : admin.token;
        if (!op.public) req.headers.authorization = `Bearer ${token}`;
        const res = await send(server.url, req);
        const what = `${req.method} ${req.path} (${mutation}) → ${res.status} ${res.body.slice(0, 300)}`;
        expect(res.status, what).to.be.below(500);
        if (req.allow) {
          // Not this operation: the path's methods, in one answer for every path (info.description).
          expect(res.status, what).to.equal(405);
          expect(res.allow, what).to.equal(req.allow.join(', '));
        } else expect([...op.statuses], what).to.include(res.status);
        // Not well-formed HTTP/1.1 is a 400 and a closed connection; an operation that answers
        // before its body is read (it takes none) may have answered first, as it does any body.
        if (mutation === 'broken-framing' && res.status === 400) {
          expect(res.connection, what).to.equal('close');
        }
        if (res.status >= 400 && req.method !== 'HEAD') {
          expect(res.type, what).to.match(/^application\/json/);
          const error = (JSON.parse(res.body) as { error?: Record<string, unknown> }).error;
          expect(error, what).to.be.an('object');
          expect(error!.code, what).to.be.a('string');
          expect(error!.message, what).to.be.a('string');
          expect(error, what).to.have.property('details');
        }
      };
      // Each run sends a batch at once: concurrent writes are part of what is tried, and the
      // batch's database round trips overlap, which is what lets CI afford thousands of requests.
      await fc.assert(
        fc.asyncProperty(fc.array(requestFor(op, ids), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          await Promise.all(batch.map(tryOne));
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
      );
    });
  }
});
