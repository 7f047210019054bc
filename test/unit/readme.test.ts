import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseDefinition } from '../../src/engine/definition';
import { readmeIsCurrent } from '../../scripts/node-types-doc';

const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

describe('README', () => {
  it('has the node-type reference the registry renders', () => {
    expect(readmeIsCurrent(), 'run npm run generate').to.equal(true);
  });

  it('shows a flow that validates', () => {
    const section = readme.slice(readme.indexOf('## Writing a flow'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1];
    const parsed = parseDefinition(yaml);
    expect(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems)).to.equal(true);
  });

  it('shows a signature check that returns false for any wrong signature, and never throws', () => {
    const section = readme.slice(readme.indexOf('X-FlowRunner-Signature'));
    const code = /```js\n([\s\S]*?)```/.exec(section)![1];
    // The README's own code, run as written (it requires node:crypto).
    const verify = new Function('require', `${code}; return verify;`)((m: string) =>
      m === 'node:crypto' ? crypto : undefined,
    ) as (header: unknown, body: string, secret: string) => boolean;
    const t = Math.floor(Date.now() / 1000);
    const sign = (body: string, at = t) =>
      `t=${at},v1=${crypto.createHmac('sha256', 'sekrit').update(`${at}.${body}`).digest('hex')}`;
    expect(verify(sign('{"a":1}'), '{"a":1}', 'sekrit')).to.equal(true);
    expect(verify(sign('{"a":1}'), '{"a":2}', 'sekrit')).to.equal(false);
    expect(verify(`t=${t},v1=abc`, '{}', 'sekrit')).to.equal(false); // another length
    expect(verify(`t=${t}`, '{}', 'sekrit')).to.equal(false);
    expect(verify('garbage', '{}', 'sekrit')).to.equal(false);
    expect(verify(undefined, '{}', 'sekrit')).to.equal(false);
    expect(verify(sign('{}', t - 3600), '{}', 'sekrit')).to.equal(false);
  });
});
