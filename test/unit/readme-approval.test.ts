import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parseDefinition } from '../../src/engine/definition';

describe('README approval example', () => {
  it('shows a definition that validates', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## People in the loop'));
    const yaml = /definition: `\n([\s\S]*?)`,/.exec(section)![1].replace('${managerId}', 'acct-manager');
    const parsed = parseDefinition(yaml);
    expect(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems)).to.equal(true);
  });
});
