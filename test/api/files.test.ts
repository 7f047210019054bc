/**
 * Files (002): upload (raw and multipart), list, get, download (ranges, ETag), delete, across
 * accounts, the size limit, and files as inputs of runs and executions — through the generated client.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { expectError } from '../support/client';
import { makeAccount, makeFlow, waitForExecution, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';
import { startTarget, type Target } from '../support/target';

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

/** The generated client, with the file's own Content-Type (the client's default is application/octet-stream). */
async function upload(who: TestAccount, body: Buffer | string, name: string, contentType = 'application/octet-stream') {
  return who.client.files.uploadFile({ body, name }, { headers: { 'Content-Type': contentType } });
}

async function download(who: TestAccount, id: string, range?: string, ifNoneMatch?: string) {
  return who.client.files.downloadFile(
    { id, range, ifNoneMatch },
    { responseType: 'arraybuffer', validateStatus: () => true },
  );
}

describe('files (002)', () => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let target: Target;
  before(async () => {
    server = await startTestServer({ FLOWRUNNER_MAX_FILE_BYTES: String(1024 * 1024) });
    alice = await makeAccount(server);
    bob = await makeAccount(server);
    target = await startTarget();
  });
  after(async () => {
    await target.close();
    await server.close();
  });

  it('uploads a raw body with its Content-Type and name, and keeps its size and sha256', async () => {
    const bytes = crypto.randomBytes(600_000); // more than two chunks
    const res = await upload(alice, bytes, 'scan 1.pdf', 'application/pdf');
    expect(res.status).to.equal(201);
    expect(res.headers.location).to.equal(`/api/v1/files/${res.data.id}`);
    expect(res.data).to.include({
      name: 'scan 1.pdf',
      content_type: 'application/pdf',
      size: bytes.length,
      sha256: sha256(bytes),
      created_by: alice.account.id,
      execution_id: null,
    });
    expect(res.data.id).to.match(/^file-/);
    expect((await alice.client.files.getFile({ id: res.data.id })).data).to.deep.equal(res.data);

    const whole = await download(alice, res.data.id);
    expect(whole.status).to.equal(200);
    expect(sha256(Buffer.from(whole.data as ArrayBuffer))).to.equal(sha256(bytes));
    expect(whole.headers['content-type']).to.equal('application/pdf');
    expect(whole.headers['content-length']).to.equal(String(bytes.length));
    expect(whole.headers.etag).to.equal(`"${sha256(bytes)}"`);
    expect(whole.headers['accept-ranges']).to.equal('bytes');
    expect(whole.headers['content-disposition']).to.equal(
      `attachment; filename="scan 1.pdf"; filename*=UTF-8''scan%201.pdf`,
    );
    expect(whole.headers['x-content-type-options']).to.equal('nosniff');
  });

  it('serves one byte range (206), refuses a range outside the file (416) and answers 304 to its ETag', async () => {
    const bytes = crypto.randomBytes(300_000);
    const { data: file } = await upload(alice, bytes, 'r.bin');
    // Across the chunk boundary (256 KiB).
    const part = await download(alice, file.id, 'bytes=262000-262999');
    expect(part.status).to.equal(206);
    expect(Buffer.from(part.data as ArrayBuffer).equals(bytes.subarray(262000, 263000))).to.equal(true);
    expect(part.headers['content-range']).to.equal(`bytes 262000-262999/${bytes.length}`);
    const tail = await download(alice, file.id, 'bytes=-10');
    expect(tail.status).to.equal(206);
    expect(Buffer.from(tail.data as ArrayBuffer).equals(bytes.subarray(bytes.length - 10))).to.equal(true);
    const open = await download(alice, file.id, 'bytes=299990-');
    expect(Buffer.from(open.data as ArrayBuffer).equals(bytes.subarray(299990))).to.equal(true);

    const outside = await download(alice, file.id, `bytes=${bytes.length}-`);
    expect(outside.status).to.equal(416);
    expect(outside.headers['content-range']).to.equal(`bytes */${bytes.length}`);
    const error = JSON.parse(Buffer.from(outside.data as ArrayBuffer).toString('utf8')).error;
    expect(error.code).to.equal('range_not_satisfiable');
    expect(error.details).to.include({ field: 'Range', size: bytes.length });

    const unchanged = await download(alice, file.id, undefined, `"${file.sha256}"`);
    expect(unchanged.status).to.equal(304);
    expect(unchanged.headers.etag).to.equal(`"${file.sha256}"`);
  });

  it('uploads multipart/form-data (busboy): the file part with its filename and type', async () => {
    const form = new FormData();
    form.append('file', new Blob(['hello, multipart'], { type: 'text/plain' }), 'hello.txt');
    const res = await alice.client.files.uploadFile({ body: form });
    expect(res.status).to.equal(201);
    expect(res.data).to.include({
      name: 'hello.txt',
      content_type: 'text/plain',
      size: 16,
      sha256: sha256('hello, multipart'),
    });
    const named = await alice.client.files.uploadFile({ body: form, name: 'renamed.txt' });
    expect(named.data.name).to.equal('renamed.txt');
    const empty = new FormData();
    empty.append('note', 'no file here');
    const refused = await expectError(alice.client.files.uploadFile({ body: empty }), 400, 'invalid_request');
    expect(refused.details).to.include({ field: 'file' });
  });

  it('refuses a file over FLOWRUNNER_MAX_FILE_BYTES with 413, keeping nothing, and a raw body without a name', async () => {
    const before = (await server.db('files').count<{ count: number }[]>({ count: '*' }))[0].count;
    const chunksBefore = (await server.db('file_chunks').count<{ count: number }[]>({ count: '*' }))[0].count;
    const tooBig = await expectError(
      upload(alice, crypto.randomBytes(1024 * 1024 + 1), 'big.bin'),
      413,
      'payload_too_large',
    );
    expect(tooBig.details).to.include({ limit: 1024 * 1024 });
    // Sent chunked (no Content-Length): refused while streaming, after some chunks were written.
    const { Readable } = await import('node:stream');
    const stream = Readable.from([crypto.randomBytes(700_000), crypto.randomBytes(700_000)]);
    await expectError(
      alice.client.files.uploadFile(
        { body: stream, name: 'big.bin' },
        { headers: { 'Content-Type': 'application/octet-stream' } },
      ),
      413,
      'payload_too_large',
    );
    expect((await server.db('files').count<{ count: number }[]>({ count: '*' }))[0].count).to.equal(before);
    expect((await server.db('file_chunks').count<{ count: number }[]>({ count: '*' }))[0].count).to.equal(chunksBefore);
    const unnamed = await expectError(
      alice.client.files.uploadFile({ body: Buffer.from('x') }),
      400,
      'invalid_request',
    );
    expect(unnamed.details).to.include({ field: 'name' });
  });

  it("lists files newest first with a cursor, hides another account's (404) and deletes them", async () => {
    const carol = await makeAccount(server);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await upload(carol, `file ${i}`, `f${i}.txt`, 'text/plain')).data.id);
    const first = (await carol.client.files.listFiles({ limit: 2 })).data;
    expect(first.items.map((f) => f.id)).to.deep.equal([ids[2], ids[1]]);
    const second = (await carol.client.files.listFiles({ limit: 2, cursor: first.next_cursor! })).data;
    expect(second.items.map((f) => f.id)).to.deep.equal([ids[0]]);
    expect(second.next_cursor).to.equal(null);
    await expectError(carol.client.files.listFiles({ cursor: 'bogus' }), 400, 'invalid_request');

    expect((await bob.client.files.listFiles({})).data.items.map((f) => f.id)).to.not.include.members(ids);
    await expectError(bob.client.files.getFile({ id: ids[0] }), 404, 'not_found');
    await expectError(bob.client.files.downloadFile({ id: ids[0] }), 404, 'not_found');
    await expectError(bob.client.files.deleteFile({ id: ids[0] }), 404, 'not_found');

    expect((await carol.client.files.deleteFile({ id: ids[0] })).data.message).to.be.a('string');
    await expectError(carol.client.files.getFile({ id: ids[0] }), 404, 'not_found');
    await expectError(carol.client.files.downloadFile({ id: ids[0] }), 404, 'not_found');
    expect(
      (await server.db('file_chunks').where({ file_id: ids[0] }).count<{ count: number }[]>({ count: '*' }))[0].count,
    ).to.equal(0);
  });

  it('gives files to runs and executions: templates read their metadata, the execution lists them', async () => {
    const { data: file } = await upload(alice, 'name,total\nacme,42\n', 'orders.csv', 'text/csv');
    const flowId = await makeFlow(
      alice,
      "nodes:\n  start:\n    type: transform\n    params: {expression: \"{'name': files[0].name, 'size': files[0].size, 'sha': files[0].sha256, 'type': files[0].content_type, 'id': files[0].id, 'count': $count(files)}\"}\n",
    );
    const run = await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, file_ids: [file.id] } });
    const done = await waitForExecution(alice, run.data.id);
    expect(done.status, done.error ?? '').to.equal('completed');
    expect(done.result).to.deep.equal({
      name: 'orders.csv',
      size: file.size,
      sha: file.sha256,
      type: 'text/csv',
      id: file.id,
      count: 1,
    });
    expect(done.file_ids).to.deep.equal([file.id]);
    expect((await alice.client.runs.getRun({ runId: run.data.id })).data.file_ids).to.deep.equal([file.id]);
    const listed = (await alice.client.files.listExecutionFiles({ id: run.data.id })).data;
    expect(listed.items).to.deep.equal([{ role: 'input', node_id: null, file }]);
    await expectError(bob.client.files.listExecutionFiles({ id: run.data.id }), 404, 'not_found');

    // Through runFlow too; without files, templates see an empty list.
    const started = await alice.client.executions.runFlow({
      id: flowId,
      runFlowRequest: { file_ids: [file.id, file.id] },
    });
    expect((await waitForExecution(alice, started.data.execution_id)).result).to.include({ count: 2 });
    const none = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: {} });
    const plain = await waitForExecution(alice, none.data.execution_id);
    expect(plain.result).to.deep.equal({ count: 0 });
    expect(plain.file_ids).to.deep.equal([]);
  });

  it("refuses a file that is not the caller's with 422 naming its index, and starts nothing", async () => {
    const { data: mine } = await upload(alice, 'mine', 'a.txt');
    const { data: theirs } = await upload(bob, 'theirs', 'b.txt');
    const flowId = await makeFlow(alice, 'nodes:\n  start:\n    type: log\n    params: {message: hi}\n');
    const before = (await alice.client.executions.listExecutions({ flowId })).data.total;
    const err = await expectError(
      alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, file_ids: [mine.id, theirs.id] } }),
      422,
      'validation_error',
    );
    expect(err.details).to.include({ field: 'file_ids[1]' });
    const missing = await expectError(
      alice.client.executions.runFlow({ id: flowId, runFlowRequest: { file_ids: ['file-nope'] } }),
      422,
      'validation_error',
    );
    expect(missing.details).to.include({ field: 'file_ids[0]' });
    expect((await alice.client.executions.listExecutions({ flowId })).data.total).to.equal(before);
  });

  it('refuses to delete a file an unfinished execution uses (409), and deletes it once that has finished', async () => {
    const { data: file } = await upload(alice, 'needed', 'needed.txt');
    const flowId = await makeFlow(
      alice,
      'nodes:\n  ask:\n    type: input\n    params: {prompt: go on?, outcomes: [{name: ok}]}\n    next: done\n  done:\n    type: log\n    params: {message: done}\n',
    );
    const { data } = await alice.client.executions.runFlow({ id: flowId, runFlowRequest: { file_ids: [file.id] } });
    await waitForExecution(alice, data.execution_id, ['waiting']);
    await expectError(alice.client.files.deleteFile({ id: file.id }), 409, 'conflict');
    await alice.client.executions.cancelExecution({ id: data.execution_id });
    await waitForExecution(alice, data.execution_id);
    await alice.client.files.deleteFile({ id: file.id });
    // The finished execution keeps what it was given; its list leaves the deleted file out.
    expect((await alice.client.executions.getExecution({ id: data.execution_id })).data.file_ids).to.deep.equal([
      file.id,
    ]);
    expect((await alice.client.files.listExecutionFiles({ id: data.execution_id })).data.items).to.deep.equal([]);
  });

  it("http.request sends a file as its body and saves a response as a new file, listed as the execution's output", async () => {
    const { data: input } = await upload(alice, 'id,amount\n1,10\n', 'in.csv', 'text/csv');
    const report = crypto.randomBytes(70_000);
    target.route('/convert', (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/pdf' }).end(report);
    });
    target.route('/missing', (_req, _body, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no');
    });
    const flowId = await makeFlow(
      alice,
      [
        'nodes:',
        '  send:',
        '    type: http.request',
        `    params: {url: "${target.url}/upload", method: POST, body_file: "{{ files[0].id }}"}`,
        '    next: fetch',
        '  fetch:',
        '    type: http.request',
        `    params: {url: "${target.url}/convert", save_response_as_file: report.pdf}`,
        '    next: done',
        '  done:',
        '    type: transform',
        "    params: {expression: \"{'saved': nodes.fetch.output.file, 'body': nodes.fetch.output.body}\"}",
        '',
      ].join('\n'),
    );
    target.route('/upload', (req, body, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ got: body, type: req.headers['content-type'] }));
    });
    const { data } = await alice.client.runs.startRun({ runStartRequest: { flow_id: flowId, file_ids: [input.id] } });
    const done = await waitForExecution(alice, data.id);
    expect(done.status, done.error ?? '').to.equal('completed');
    const sent = target.hits.find((h) => h.path === '/upload')!;
    expect(sent.body).to.equal('id,amount\n1,10\n');
    expect(sent.headers['content-type']).to.equal('text/csv');
    expect(sent.headers['content-length']).to.equal(String(input.size));

    const result = done.result as {
      saved: { id: string; name: string; size: number; sha256: string; content_type: string };
      body: null;
    };
    expect(result.body).to.equal(null);
    expect(result.saved).to.include({
      name: 'report.pdf',
      size: report.length,
      sha256: sha256(report),
      content_type: 'application/pdf',
    });
    const saved = (await alice.client.files.getFile({ id: result.saved.id })).data;
    expect(saved).to.include({ execution_id: data.id, created_by: null });
    const bytes = await download(alice, saved.id);
    expect(Buffer.from(bytes.data as ArrayBuffer).equals(report)).to.equal(true);
    const files = (await alice.client.files.listExecutionFiles({ id: data.id })).data.items;
    expect(files.map((f) => [f.role, f.node_id, f.file.id])).to.deep.equal([
      ['input', null, input.id],
      ['output', 'fetch', saved.id],
    ]);

    // A file of another account is not sent; a failed status saves nothing.
    const { data: theirs } = await upload(bob, 'secret', 'b.txt');
    const other = await makeFlow(
      alice,
      `nodes:\n  send:\n    type: http.request\n    params: {url: "${target.url}/upload", method: POST, body_file: "${theirs.id}"}\n`,
    );
    const refused = await waitForExecution(
      alice,
      (await alice.client.runs.startRun({ runStartRequest: { flow_id: other } })).data.id,
    );
    expect(refused.status).to.equal('failed');
    expect(refused.error).to.match(/not found/);
    const before = (
      await server.db('files').where({ account_id: alice.account.id }).count<{ count: number }[]>({ count: '*' })
    )[0].count;
    const missing = await makeFlow(
      alice,
      `nodes:\n  fetch:\n    type: http.request\n    params: {url: "${target.url}/missing", save_response_as_file: true}\n`,
    );
    const failed = await waitForExecution(
      alice,
      (await alice.client.runs.startRun({ runStartRequest: { flow_id: missing } })).data.id,
    );
    expect(failed.status).to.equal('failed');
    expect(
      (await server.db('files').where({ account_id: alice.account.id }).count<{ count: number }[]>({ count: '*' }))[0]
        .count,
    ).to.equal(before);
  });
});
