import axios from 'axios';
import fs from 'node:fs';
import nodePath from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { adminDatabaseUrl, runDatabaseName } from '../support/database';
import { expect } from 'chai';
import { allHandlers } from '../../src/http/app';
import { unimplementedOperations } from '../../src/http/router';
import { SPEC_JSON_PATH } from '../../src/http/spec';
import { apiClient, expectError } from '../support/client';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

/**
 * The operations that still answer 501. This list may only shrink: implementing an operation
 * means removing it here.
 */
const STILL_501: string[] = [];

describe('platform', () => {
  let server: TestServer;
  let user: TestAccount;
  before(async () => {
    server = await startTestServer();
    user = await makeAccount(server);
  });
  after(() => server.close());

  const raw = (method: string, path: string, data?: unknown, headers: Record<string, string> = {}) =>
    axios.request({
      method,
      url: server.url + path,
      data,
      headers: { authorization: `Bearer ${user.token}`, ...headers },
      validateStatus: () => true,
    });

  describe('the 004 error format', () => {
    it('answers malformed JSON with 400 invalid_request', async () => {
      const res = await raw('post', '/api/v1/accounts', '{"name": ', { 'content-type': 'application/json' });
      expect(res.status).to.equal(400);
      expect(res.data.error.code).to.equal('invalid_request');
      expect(res.data.error.message).to.match(/Malformed JSON/);
    });

    it('rejects an unknown body field and names it', async () => {
      const err = await expectError(
        user.client.apiKeys.createApiKey({ apiKeyCreate: { name: 'k', color: 'red' } as never }),
        400,
        'invalid_request',
      );
      expect(JSON.stringify(err.details)).to.contain('color');
    });

    it('rejects a missing required field and names it', async () => {
      const err = await expectError(
        user.client.apiKeys.createApiKey({ apiKeyCreate: {} as never }),
        400,
        'invalid_request',
      );
      expect(err.details?.field).to.equal('name');
    });

    it('rejects a wrong type and names the field', async () => {
      const err = await expectError(
        user.client.apiKeys.createApiKey({ apiKeyCreate: { name: 42 } as never }),
        400,
        'invalid_request',
      );
      expect(err.details?.field).to.equal('name');
    });

    it('rejects an unknown query parameter', async () => {
      const res = await raw('get', '/api/v1/api-keys?colour=red');
      expect(res.status).to.equal(400);
      expect(res.data.error.details.field).to.equal('colour');
    });

    it('answers a body over 1 MiB with 413 payload_too_large', async () => {
      const res = await raw('post', '/api/v1/api-keys', { name: 'x'.repeat(1024 * 1024 + 10) });
      expect(res.status).to.equal(413);
      expect(res.data.error.code).to.equal('payload_too_large');
      // Declared wherever a body is taken, so a client knows it may come.
      const spec = JSON.parse(fs.readFileSync(nodePath.join(__dirname, '../../generated/openapi.json'), 'utf8'));
      const undeclared = Object.entries(
        spec.paths as Record<string, Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>>,
      ).flatMap(([p, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => op?.requestBody && !op.responses?.['413'])
          .map(([m]) => `${m.toUpperCase()} ${p}`),
      );
      expect(undeclared).to.deep.equal([]);
    });

    it('answers an unknown route with 404 not_found', async () => {
      const res = await raw('get', '/api/v1/nothing-here');
      expect(res.status).to.equal(404);
      expect(res.data).to.deep.equal({ error: { code: 'not_found', message: 'Resource not found', details: null } });
      const outside = await raw('get', '/elsewhere');
      expect(outside.status).to.equal(404);
      expect(outside.data.error.code).to.equal('not_found');
    });

    it('answers a missing auth header with 401 unauthorized', async () => {
      await expectError(apiClient(server.url).users.getCurrentUser(), 401, 'unauthorized');
    });

    it('answers a malformed or invalid auth header with 401 unauthorized', async () => {
      for (const authorization of ['Basic abc', 'Bearer', 'Bearer not-a-jwt', `Bearer ${user.token}x`]) {
        const res = await raw('get', '/api/v1/users/me', undefined, { authorization });
        expect(res.status, authorization).to.equal(401);
        expect(res.data.error.code).to.equal('unauthorized');
      }
    });

    it('hides internal errors behind a request id', async () => {
      // A database without our tables: every query fails inside the server.
      const name = runDatabaseName('empty');
      const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
      await admin.connect();
      await admin.query(`create database "${name}"`);
      const url = new URL(adminDatabaseUrl());
      url.pathname = `/${name}`;
      const empty = await startTestServer({}, url.toString());
      try {
        const res = await axios.post(
          `${empty.url}/api/v1/auth/login`,
          { username: 'a@b.c', password: 'x' },
          { validateStatus: () => true },
        );
        expect(res.status).to.equal(500);
        expect(res.data.error).to.deep.equal({
          code: 'internal_error',
          message: 'An internal server error occurred',
          details: { request_id: res.headers['x-request-id'] },
        });
      } finally {
        await empty.close();
        await admin.query(`drop database if exists "${name}" with (force)`);
        await admin.end();
      }
    });

    it('answers 503 unavailable when the database is unreachable', async () => {
      const broken = await startTestServer({}, 'postgres://nobody@127.0.0.1:1/nothing');
      try {
        const res = await axios.post(
          `${broken.url}/api/v1/auth/login`,
          { username: 'a@b.c', password: 'x' },
          { validateStatus: () => true },
        );
        expect(res.status).to.equal(503);
        expect(res.data.error.code).to.equal('unavailable');
        expect(JSON.stringify(res.data)).not.to.match(/ECONNREFUSED|127\.0\.0\.1|stack/);
        expect(res.headers['x-request-id']).to.be.a('string');
      } finally {
        await broken.close();
      }
    });
  });

  describe('meta', () => {
    it('reports liveness and readiness', async () => {
      const client = apiClient(server.url);
      expect((await client.meta.getHealth()).data).to.deep.equal({ status: 'ok' });
      expect((await client.meta.getReadiness()).data).to.deep.equal({ status: 'ready' });
    });

    it('is not ready while the database is down', async () => {
      const broken = await startTestServer({}, 'postgres://nobody@127.0.0.1:1/nothing');
      try {
        await expectError(apiClient(broken.url).meta.getReadiness(), 503, 'unavailable');
        expect((await apiClient(broken.url).meta.getHealth()).status).to.equal(200);
      } finally {
        await broken.close();
      }
    });

    it('serves the spec as YAML and JSON, and the docs without a CDN', async () => {
      const json = await axios.get(`${server.url}/openapi.json`);
      expect(json.data.openapi).to.equal('3.0.3');
      expect(Object.keys(json.data.paths)).to.include('/api/v1/runs/{run_id}/definition');
      const yaml = await axios.get(`${server.url}/openapi.yaml`, { responseType: 'text' });
      expect(yaml.data).to.match(/^# DO NOT EDIT/);
      const docs = await axios.get(`${server.url}/docs`, { responseType: 'text' });
      expect(docs.data).to.contain('<redoc spec-url="/openapi.json">').and.contain('src="/docs/redoc.standalone.js"');
      expect(docs.data).not.to.match(/https?:\/\//);
      const bundle = await axios.get(`${server.url}/docs/redoc.standalone.js`, { responseType: 'text' });
      expect(bundle.status).to.equal(200);
      expect(bundle.data.length).to.be.greaterThan(100_000);
    });

    it('answers GET / : a browser goes to the console, an API client learns where the API and its contract are', async () => {
      const api = await axios.get(`${server.url}/`, {
        validateStatus: () => true,
        headers: { accept: 'application/json' },
      });
      expect(api.status).to.equal(404);
      expect(api.data.error).to.deep.include({ code: 'not_found' });
      expect(api.data.error.details).to.deep.equal({
        api: '/api/v1',
        spec: '/openapi.json',
        docs: '/docs',
        console: '/console',
      });
      const browser = await axios.get(`${server.url}/`, {
        validateStatus: () => true,
        maxRedirects: 0,
        headers: { accept: 'text/html,application/xhtml+xml' },
      });
      expect(browser.status).to.equal(302);
      expect(browser.headers.location).to.equal('/console');
    });

    it('serves the spec naming the server it is served from', async () => {
      const json = await axios.get(`${server.url}/openapi.json`);
      expect(json.data.servers).to.have.length(1);
      expect(json.data.servers[0].url).to.equal(server.url);
      const yaml = parseYaml((await axios.get(`${server.url}/openapi.yaml`, { responseType: 'text' })).data);
      expect(yaml.servers[0].url).to.equal(server.url);
      // The rest is the bundle as generated.
      const bundle = JSON.parse(fs.readFileSync(SPEC_JSON_PATH, 'utf8'));
      expect(bundle.servers[0].url).to.equal('/');
      expect({ ...json.data, servers: bundle.servers }).to.deep.equal(bundle);
      expect({ ...yaml, servers: bundle.servers }).to.deep.equal(bundle);

      const proxied = await axios.get(`${server.url}/openapi.json`, { headers: { host: 'flowrunner.example:8443' } });
      expect(proxied.data.servers[0].url).to.equal('http://flowrunner.example:8443');
      const malformed = await axios.get(`${server.url}/openapi.json`, { headers: { host: 'a"b/c' } });
      expect(malformed.data.servers[0].url).to.equal('/');
    });

    it('refuses query parameters like every other operation: 400 invalid_request naming one', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/openapi.json', '/docs']) {
        const res = await raw('get', `${path}?colour=red`);
        expect(res.status, path).to.equal(400);
        expect(res.data.error.code, path).to.equal('invalid_request');
        expect(res.data.error.details.field, path).to.equal('colour');
      }
    });

    it('exposes Prometheus metrics, counting requests by route template and status', async () => {
      const count = async (labels: string) => {
        const res = await axios.get(`${server.url}/metrics`, { responseType: 'text' });
        const line = (res.data as string)
          .split('\n')
          .find((l) => l.startsWith('flowrunner_http_request_duration_seconds_count{') && l.includes(labels));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const labels = 'method="GET",route="/api/v1/flows/{id}",status="404"';
      const before = await count(labels);
      await expectError(user.client.flows.getFlow({ id: 'flow-missing-1' }), 404, 'not_found');
      await expectError(user.client.flows.getFlow({ id: 'flow-missing-2' }), 404, 'not_found');
      expect((await count(labels)) - before).to.equal(2);
    });
  });

  describe('the contract', () => {
    it('has a handler for every operation: none answers 501 any more', async () => {
      expect(unimplementedOperations(allHandlers(server.services)).sort()).to.deep.equal([...STILL_501].sort());
    });
  });
});
