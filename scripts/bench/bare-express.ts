/**
 * The bare-Express baseline: an Express 5 app with one JSON handler and nothing else, in a process
 * of its own like FlowRunner's server, answering what an execution read answers in size.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';

const execution = {
  id: 'exec-01J9Z3W9F8K5Q2M7N4T6V8X0YA',
  flow_id: 'flow-01J9Z3W9F8K5Q2M7N4T6V8X0YA',
  flow_version: 1,
  status: 'completed',
  input: {},
  result: 0,
  error: null,
  current_node: null,
  step_count: 1,
  created_at: '2026-12-01T12:00:00.000Z',
  started_at: '2026-12-01T12:00:00.004Z',
  completed_at: '2026-12-01T12:00:00.011Z',
};

const app = express();
app.disable('x-powered-by');
app.get('/execution', (_req, res) => {
  res.json(execution);
});
const server = app.listen(0, '127.0.0.1', () => {
  server.keepAliveTimeout = 65_000;
  process.send!({ ready: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
process.on('disconnect', () => process.exit(0));
