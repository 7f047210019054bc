import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { decide } from '../../src/engine/branch-commit';
import { parseDefinition } from '../../src/engine/definition';
import type { BranchOutcome } from '../../src/engine/nodes/join';
import { regionsOf } from '../../src/engine/regions';

const done = (output: unknown = 1): BranchOutcome => ({ status: 'completed', output, error: null });
const failed: BranchOutcome = { status: 'failed', output: null, error: 'x' };

describe('join rules', () => {
  const three = ['a', 'b', 'c'];
  it('all: waits for every branch; fail_fast gives up at the first failure', () => {
    expect(decide({}, three, { a: done(), b: done() })).to.equal('wait');
    expect(decide({}, three, { a: done(), b: done(), c: done() })).to.equal('met');
    expect(decide({}, three, { b: failed })).to.equal('failed');
  });
  it('any and n count completed branches; fail_fast decides once the rule can no longer be met', () => {
    expect(decide({ wait_for: 'any' }, three, { a: failed })).to.equal('wait');
    expect(decide({ wait_for: 'any' }, three, { a: failed, b: done() })).to.equal('met');
    expect(decide({ wait_for: 'any' }, three, { a: failed, b: failed, c: failed })).to.equal('failed');
    expect(decide({ wait_for: 'n', n: 2 }, three, { a: done(), b: failed })).to.equal('wait');
    expect(decide({ wait_for: 'n', n: 2 }, three, { a: failed, b: failed })).to.equal('failed');
    expect(decide({ wait_for: 'n', n: 2 }, three, { a: done(), c: done() })).to.equal('met');
  });
  it('wait_all decides only when every branch has ended', () => {
    const p = { wait_for: 'any', on_failure: 'wait_all' };
    expect(decide(p, three, { a: done() })).to.equal('wait');
    expect(decide(p, three, { a: done(), b: failed, c: failed })).to.equal('met');
    expect(decide({ on_failure: 'wait_all' }, three, { a: done(), b: failed })).to.equal('wait');
    expect(decide({ on_failure: 'wait_all' }, three, { a: done(), b: failed, c: done() })).to.equal('failed');
  });
});

describe('branch and body regions', () => {
  it('knows the innermost branch of each node, nested parallels included', () => {
    const parsed = parseDefinition(`nodes:
  start: {type: parallel, params: {join: j}, next: {a: inner, b: b1}}
  inner: {type: parallel, params: {join: ij}, next: {x: x1, y: ij}}
  x1: {type: transform, params: {expression: "1"}, next: ij}
  ij: {type: join, next: j}
  b1: {type: transform, params: {expression: "2"}}
  j: {type: join}
`);
    expect(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems)).to.equal(true);
    if (!parsed.ok) return;
    const regions = regionsOf(parsed.document);
    expect(regions.branchOf.get('x1')).to.deep.equal({ parallel: 'inner', join: 'ij', branch: 'x' });
    expect(regions.branchOf.get('ij')).to.deep.equal({ parallel: 'start', join: 'j', branch: 'a' });
    expect(regions.branchOf.get('b1')).to.deep.include({ branch: 'b' });
    expect(regions.branchOf.has('j')).to.equal(false);
    expect([...regions.members.get('start')!]).to.have.members(['inner', 'x1', 'ij', 'b1']);
  });

  it('refuses a jump out of a foreach body and a join of no parallel', () => {
    const parsed = parseDefinition(`nodes:
  start: {type: foreach, params: {items: [1]}, next: {each: body, default: after}}
  body: {type: transform, params: {expression: "1"}, next: after}
  after: {type: transform, params: {expression: "2"}, next: lonely}
  lonely: {type: join}
`);
    expect(parsed.ok).to.equal(false);
    if (parsed.ok) return;
    const paths = parsed.problems.map((p) => p.path);
    expect(paths).to.include('nodes.lonely');
    expect(parsed.problems.some((p) => p.message.includes('body of foreach "start"'))).to.equal(true);
  });
});

describe('README: parallel branches and foreach', () => {
  it('shows a flow that validates', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const section = readme.split('### Parallel branches and foreach')[1];
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1];
    const parsed = parseDefinition(yaml);
    expect(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems)).to.equal(true);
  });
});
