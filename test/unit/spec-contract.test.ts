/**
 * What the spec promises clients about every answer, checked on the bundle: each response declares
 * `X-Request-Id`, and `ErrorCode` lists every code the server writes and the description's table.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const spec = JSON.parse(fs.readFileSync(path.join(root, 'generated', 'openapi.json'), 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

type Response = { $ref?: string; headers?: Record<string, unknown> };
const resolve = (r: Response): Response =>
  r.$ref
    ? (r.$ref
        .split('/')
        .slice(1)
        .reduce((o: Record<string, unknown>, k) => o[k] as never, spec) as Response)
    : r;

function listTs(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listTs(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('the spec, for clients', () => {
  it('declares X-Request-Id on every response of every operation', () => {
    const missing: string[] = [];
    for (const [p, item] of Object.entries<Record<string, { responses: Record<string, Response> }>>(spec.paths)) {
      for (const method of METHODS.filter((m) => item[m])) {
        for (const [status, response] of Object.entries(item[method].responses)) {
          if (!resolve(response).headers?.['X-Request-Id']) missing.push(`${method.toUpperCase()} ${p} ${status}`);
        }
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('lists in ErrorCode every code the server answers with, and the same as the status table', () => {
    const codes: string[] = spec.components.schemas.ErrorCode.enum;
    const written = new Set<string>();
    const sources = [path.join(root, 'src', 'errors.ts'), ...listTs(path.join(root, 'src', 'http'))];
    for (const file of sources) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/\bcode(?: =|:) '([a-z_]+)'/g)) written.add(m[1]);
    }
    expect(written.size).to.be.above(10);
    expect([...written].filter((c) => !codes.includes(c))).to.deep.equal([]);
    const table = [...(spec.info.description as string).matchAll(/^\| \d{3} \| `([a-z_]+)` \|$/gm)].map((m) => m[1]);
    expect([...table].sort()).to.deep.equal([...codes].sort());
    expect(spec.components.schemas.ErrorBody.properties.code).to.deep.equal({ $ref: '#/components/schemas/ErrorCode' });
  });
});
