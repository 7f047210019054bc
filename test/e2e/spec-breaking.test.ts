import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';

const root = path.resolve(__dirname, '../..');

interface Bundle {
  info: { version: string };
  paths: Record<string, unknown>;
  components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
}

describe('npm run spec:breaking', function () {
  this.timeout(120_000);

  let dir: string;
  let released: string;
  const bundle = (): Bundle => JSON.parse(fs.readFileSync(path.join(root, 'generated', 'openapi.json'), 'utf8'));
  /** The contract's version, which the copies below are compared as. */
  const version = bundle().info.version;

  /** Runs the check of a changed copy of the bundle against the unchanged one, both in a temp dir. */
  async function check(change: (spec: Bundle) => void): Promise<{ code: number; stdout: string; stderr: string }> {
    const spec = bundle();
    change(spec);
    const file = path.join(dir, 'current.json');
    fs.writeFileSync(file, JSON.stringify(spec, null, 2));
    return promisify(execFile)('npx', ['tsx', 'scripts/spec-breaking.ts', '--released', released, '--spec', file], {
      cwd: root,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({
        code: err.code,
        stdout: err.stdout,
        stderr: err.stderr,
      }),
    );
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-spec-breaking-'));
    released = path.join(dir, 'released.json');
    fs.writeFileSync(released, JSON.stringify(bundle(), null, 2));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('passes on an identical copy', async () => {
    const result = await check(() => {});
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain(`No breaking changes against the released contract ${version}`);
  });

  it('fails on a removed response field and names the field and the operations', async () => {
    const result = await check((spec) => {
      const flow = spec.components.schemas.Flow;
      delete flow.properties.name;
      flow.required = flow.required?.filter((f) => f !== 'name');
    });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain(`Breaking changes against the released contract ${version}`);
    expect(result.stderr).to.match(/GET \/api\/v1\/flows\/\{id\}: the 200 response .*`name` removed/);
    expect(result.stderr).to.match(/POST \/api\/v1\/flows: the 201 response .*`name` removed/);
    expect(result.stderr).to.contain('raise the major of info.version');
  });

  it('fails on a removed path and on a required query parameter added', async () => {
    const result = await check((spec) => {
      delete spec.paths['/api/v1/node-types'];
      const list = spec.paths['/api/v1/runs'] as { get: { parameters: unknown[] } };
      list.get.parameters.push({ name: 'tenant', in: 'query', required: true, schema: { type: 'string' } });
    });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('/api/v1/node-types: path removed');
    expect(result.stderr).to.contain('GET /api/v1/runs: required parameter `tenant` (query) added');
  });

  it('passes on an added optional response field', async () => {
    const result = await check((spec) => {
      spec.components.schemas.Flow.properties.archived_at = { type: 'string', format: 'date-time', nullable: true };
    });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain('No breaking changes');
    expect(result.stdout).to.match(/GET \/api\/v1\/flows\/\{id\}: .*`archived_at` added/);
  });

  it('passes a breaking change when the major version is raised, and lists it', async () => {
    const result = await check((spec) => {
      spec.info.version = `${Number(version.split('.')[0]) + 1}.0.0`;
      delete spec.components.schemas.Flow.properties.description;
    });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain(
      `info.version ${Number(version.split('.')[0]) + 1}.0.0 raises the major of the released ${version}`,
    );
    expect(result.stdout).to.contain('`description` removed');
  });
});
