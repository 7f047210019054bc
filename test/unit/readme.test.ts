import { expect } from 'chai';
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
});
