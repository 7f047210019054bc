/**
 * A 50 MiB file goes into and out of an API process (a child process, as a user runs it) without
 * its memory growing with the file: the upload streams into PostgreSQL chunk rows and the download
 * streams out of them. The peak resident memory of the server process during each transfer (its
 * kernel high-water mark, `VmHWM`, reset before each transfer; sampled `VmRSS` where the reset is not
 * allowed) must stay well under the file's size; the bytes are checked by sha256 both ways.
 *
 * The transfers use Node's http directly, not the generated client: axios (through
 * follow-redirects) keeps a copy of every request body it sends, to replay it on a redirect, and
 * refuses bodies over 10 MB; the client side of this test streams too, so that it measures the
 * server alone. The generated client's uploads are tested in test/api/files.test.ts.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { testDatabaseUrl } from '../support/database';
import { makeAccount, type TestAccount } from '../support/factories';
import { startProcess, type Proc } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';

const MiB = 1024 * 1024;
const FILE_BYTES = 50 * MiB;
/** Well under the file: a server that held the file (or its hex text from PostgreSQL) would exceed it. */
const MAX_GROWTH = 20 * MiB;

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Measures the peak resident memory of `pid` while `work` runs. */
async function peakDuring<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ result: T; baseline: number; peak: number }> {
  let highWaterMark = true;
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  } catch {
    highWaterMark = false;
  }
  const baseline = statusKb(pid, 'VmRSS');
  let sampled = baseline;
  const sampler = setInterval(() => (sampled = Math.max(sampled, statusKb(pid, 'VmRSS'))), 5);
  try {
    const result = await work();
    const peak = highWaterMark ? statusKb(pid, 'VmHWM') : Math.max(sampled, statusKb(pid, 'VmRSS'));
    return { result, baseline, peak };
  } finally {
    clearInterval(sampler);
  }
}

/** `size` random bytes, made as they are read (never all in memory here either), and their sha256. */
function randomBody(size: number): { stream: Readable; sha256: () => string } {
  const hash = crypto.createHash('sha256');
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = crypto.randomBytes(Math.min(64 * 1024, left));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

function uploadStream(url: string, token: string, name: string, body: Readable, size: number) {
  return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/files?name=${encodeURIComponent(name)}`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(size),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    body.pipe(req);
  });
}

function downloadHash(url: string, token: string, id: string) {
  return new Promise<{ status: number; size: number; sha256: string; etag?: string }>((resolve, reject) => {
    http
      .get(`${url}/api/v1/files/${id}/content`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        const hash = crypto.createHash('sha256');
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          hash.update(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, size, sha256: hash.digest('hex'), etag: res.headers.etag }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('files: a 50 MiB upload and download stream through an API process with flat memory', function () {
  this.timeout(300_000);
  let helper: TestServer;
  let api: Proc;
  let owner: TestAccount;
  before(async () => {
    helper = await startTestServer({}, undefined, { worker: false });
    api = await startProcess('api', testDatabaseUrl());
    owner = await makeAccount(helper);
  });
  after(async () => {
    await api?.stop('SIGKILL');
    await helper.close();
  });

  it('uploads and downloads 50 MiB, checked by sha256, while the server grows by far less than the file', async () => {
    const pid = api.child.pid!;
    // Warm up: the code paths, the connection pool and the heap's first growth are not the file's.
    for (let i = 0; i < 2; i++) {
      const warm = randomBody(4 * MiB);
      const stored = await uploadStream(api.url!, owner.token, 'warm-up.bin', warm.stream, 4 * MiB);
      expect(stored.status).to.equal(201);
      expect((await downloadHash(api.url!, owner.token, String(stored.body.id))).sha256).to.equal(warm.sha256());
    }

    const body = randomBody(FILE_BYTES);
    const up = await peakDuring(pid, () => uploadStream(api.url!, owner.token, 'big.bin', body.stream, FILE_BYTES));
    const sent = body.sha256();
    expect(up.result.status, JSON.stringify(up.result.body)).to.equal(201);
    expect(up.result.body).to.include({ size: FILE_BYTES, sha256: sent });
    const id = String(up.result.body.id);

    const down = await peakDuring(pid, () => downloadHash(api.url!, owner.token, id));
    expect(down.result.status).to.equal(200);
    expect(down.result.size).to.equal(FILE_BYTES);
    expect(down.result.sha256).to.equal(sent);
    expect(down.result.etag).to.equal(`"${sent}"`);

    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    const report = `upload: ${mib(up.baseline)} → peak ${mib(up.peak)}; download: ${mib(down.baseline)} → peak ${mib(down.peak)}`;
    expect(up.peak - up.baseline, report).to.be.below(MAX_GROWTH);
    expect(down.peak - down.baseline, report).to.be.below(MAX_GROWTH);
  });
});
