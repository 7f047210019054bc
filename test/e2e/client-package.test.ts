/**
 * The client as a new integrator gets it: the `npm pack`ed tarball installed into an empty project
 * (outside this repository, so nothing resolves from our node_modules), compiled strictly as ESM
 * (node16 and bundler resolution) and CommonJS, and run against a live server; the package README's
 * example too, unchanged.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkTarball, packClient } from '../../scripts/pack-client';
import { makeAccount, type TestAccount } from '../support/factories';
import { startTestServer, type TestServer } from '../support/server';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
const integrator = path.join(root, 'scripts', 'client', 'integrator');
const versionOf = (name: string) =>
  (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;

describe('the packed client in a new project', function () {
  this.timeout(300_000);
  let server: TestServer;
  let user: TestAccount;
  let dir: string;
  let tarball: string;

  before(async () => {
    server = await startTestServer();
    user = await makeAccount(server);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-integrator-'));
    tarball = packClient(dir);
    fs.cpSync(integrator, dir, { recursive: true });
    // The readme's first TypeScript block, as it stands.
    const readme = fs.readFileSync(path.join(root, 'scripts', 'client', 'README.md'), 'utf8');
    fs.writeFileSync(path.join(dir, 'src', 'readme.ts'), /```ts\n([\s\S]*?)```/.exec(readme)![1]);
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        tarball,
        `axios@${versionOf('axios')}`,
        `ws@${versionOf('ws')}`,
        `@types/ws@${versionOf('@types/ws')}`,
        `@types/node@${versionOf('@types/node')}`,
      ],
      { cwd: dir },
    );
  });
  after(async () => {
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({
    ...process.env,
    FLOWRUNNER_URL: server.url,
    FLOWRUNNER_EMAIL: user.account.email,
    FLOWRUNNER_PASSWORD: user.password,
  });

  it('ships built JavaScript and declarations only, and passes publint and arethetypeswrong', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n');
    expect(files).to.include.members([
      'package/package.json',
      'package/README.md',
      'package/dist/esm/index.js',
      'package/dist/esm/index.d.ts',
      'package/dist/cjs/index.js',
      'package/dist/cjs/index.d.ts',
    ]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).to.deep.equal([]);
    const pkg = JSON.parse(
      fs.readFileSync(path.join(dir, 'node_modules', '@flowrunner', 'client', 'package.json'), 'utf8'),
    );
    expect(pkg.peerDependencies).to.have.property('axios');
    expect(pkg.dependencies ?? {}).to.not.have.property('axios');
    checkTarball(tarball);
  });

  it('compiles strictly: ESM with node16 and bundler resolution, and CommonJS', async () => {
    for (const config of ['node16', 'bundler', 'cjs', 'readme']) {
      await run(tsc, ['-p', `tsconfig.${config}.json`], { cwd: dir }).catch((err: { stdout?: string }) => {
        throw new Error(`tsconfig.${config}.json: ${err.stdout}`);
      });
    }
  });

  it('runs against a live server from ESM: login, API key, idempotent start, follow, run-and-wait, paging, errors', async () => {
    const { stdout } = await run('node', ['out/node16/main.js'], { cwd: dir, env: env() });
    const report = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(report.idempotent).to.equal(true);
    expect(report.events[report.events.length - 1]).to.equal('execution_completed');
    expect(report.result).to.equal('Hello Ada');
    expect(report.runAndWait).to.deep.equal({ status: 'completed', result: 'Hello Grace' });
    expect(report.paged).to.equal(2);
    expect(report.missing).to.include({ status: 404, code: 'not_found' });
    expect(report.missing.requestId).to.be.a('string').and.not.equal('');
    expect(report.badToken).to.deep.equal({ status: 401, code: 'unauthorized' });
    expect(report.badLogin).to.deep.equal({ status: 401, code: 'unauthorized' });
    expect(report.followMissing).to.deep.equal({ status: 404, code: 'not_found' });
    expect(report.leaks).to.deep.equal([false, false, false]);
    // The bundler build is the same program: it loads and runs too.
    const bundler = await run('node', ['out/bundler/main.js'], { cwd: dir, env: env() });
    expect(JSON.parse(bundler.stdout.trim().split('\n').pop()!).runAndWait.status).to.equal('completed');
  });

  it('runs from CommonJS', async () => {
    const { stdout } = await run('node', ['out/cjs/main.cjs'], { cwd: dir, env: env() });
    expect(JSON.parse(stdout.trim())).to.deep.equal({ status: 'completed', result: 42, code: 'not_found' });
  });

  it("runs the README's example unchanged", async () => {
    const { stdout } = await run('node', ['out/readme/readme.js'], { cwd: dir, env: env() });
    expect(stdout).to.contain('completed Hello Ada');
    expect(stdout).to.contain('404 not_found');
  });
});
