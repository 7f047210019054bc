import { expect } from 'chai';
import { parseDefinition, type DefinitionProblem } from '../../src/engine/definition';

function problems(text: string): DefinitionProblem[] {
  const r = parseDefinition(text);
  if (r.ok) expect.fail('expected the definition to be rejected');
  return r.problems;
}

const SEED = `metadata:
  name: "My Flow"
  description: "A simple flow"
  version: "1.0.0"

nodes:
  start:
    type: "http.request"
    params:
      url: "https://api.example.com/data"
      method: "GET"
    next:
      default: "end"

  end:
    type: "webhook"
    params:
      url: "https://webhook.example.com/callback"
      method: "POST"
`;

describe('flow definition validation', () => {
  it("accepts 004's example", () => {
    const r = parseDefinition(SEED);
    expect(r.ok).to.equal(true);
    if (r.ok) {
      expect(r.entry).to.equal('start');
      expect(r.hash).to.match(/^[0-9a-f]{64}$/);
    }
  });

  it('accepts the extensions: inputs, entry, retry, timeout, branches, output, next shorthand', () => {
    const r = parseDefinition(`
inputs: {type: object, required: [amount], properties: {amount: {type: number}}}
entry: check
output: "{{ nodes.big.output }}"
nodes:
  check:
    type: condition
    params: {expression: "input.amount > 100"}
    next: {"true": big, "false": small}
  big:
    type: transform
    params: {expression: "{'size': 'big'}"}
    retry: {max_attempts: 3, backoff_ms: 100, backoff_multiplier: 2, max_backoff_ms: 1000}
    timeout_ms: 5000
  small:
    type: log
    params: {message: "small {{ input.amount }}"}
    next: done
  done:
    type: switch
    params: {cases: [{name: again, when: "false"}]}
    next: {again: check}
`);
    expect(r.ok, JSON.stringify(!r.ok && r.problems)).to.equal(true);
  });

  it('reports YAML syntax errors with line and column', () => {
    const [p] = problems('nodes:\n  start:\n    type: log\n   params: [unclosed\n');
    expect(p.message).to.match(/^YAML:/);
    expect(p).to.include({ line: 4, column: 1 });
  });

  it('rejects a definition that is not a mapping, or has no nodes', () => {
    expect(problems('- a\n- b\n')[0].message).to.match(/must be a YAML mapping/);
    expect(problems('metadata: {name: x}\n')[0].message).to.match(/nodes/);
    expect(problems('nodes: {}\n')[0].path).to.equal('nodes');
  });

  it('rejects an unknown node type, naming the node and the known types', () => {
    const [p] = problems('nodes:\n  start:\n    type: teleport\n');
    expect(p).to.include({ node: 'start', path: 'nodes.start.type', line: 3 });
    expect(p.message).to.contain('unknown node type "teleport"').and.contain('http.request');
  });

  it("rejects params that don't match the node type's schema", () => {
    const ps = problems('nodes:\n  start:\n    type: http.request\n    params: {method: FETCH, colour: red}\n');
    const paths = ps.map((p) => p.path);
    expect(paths).to.include('nodes.start.params');
    expect(ps.map((p) => p.message).join(' '))
      .to.contain('url')
      .and.contain('colour');
    expect(paths).to.include('nodes.start.params.method');
  });

  it('lets a template stand where a number goes', () => {
    expect(
      parseDefinition(
        'nodes:\n  start:\n    type: http.request\n    params: {url: "https://x", timeout_ms: "{{ input.t }}"}\n',
      ).ok,
    ).to.equal(true);
  });

  it('rejects a next target that does not exist, and an outcome the node cannot emit', () => {
    const ps = problems(
      'nodes:\n  start:\n    type: log\n    params: {message: hi}\n    next: {default: nowhere, "true": start}\n',
    );
    expect(ps.find((p) => p.path === 'nodes.start.next.default')!.message).to.contain('"nowhere" is not a node');
    expect(ps.find((p) => p.path === 'nodes.start.next.true')!.message).to.contain('has no outcome "true"');
  });

  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    it(`refuses "${name}" as a node id, an edge target and an entry`, () => {
      const asTarget = problems(`nodes:\n  start:\n    type: log\n    params: {message: hi}\n    next: ${name}\n`);
      expect(asTarget.find((p) => p.path === 'nodes.start.next.default')!.message).to.contain(
        `"${name}" is not a node`,
      );
      const asNode = problems(`entry: ${name}\nnodes:\n  ${name}:\n    type: log\n    params: {message: hi}\n`);
      expect(asNode.map((p) => [p.node, p.path, p.message])).to.deep.include.members([
        [name, `nodes.${name}`, `"${name}" is a reserved name and cannot be a node id`],
        [null, 'entry', `entry "${name}" is not a node of this flow`],
      ]);
    });
  }

  it('rejects nodes unreachable from the entry', () => {
    const ps = problems(
      'nodes:\n  start:\n    type: log\n    params: {message: a}\n  island:\n    type: log\n    params: {message: b}\n',
    );
    expect(ps).to.deep.include({
      node: 'island',
      path: 'nodes.island',
      message: 'node "island" is unreachable from the entry "start"',
      line: 5,
      column: 3,
    });
  });

  it('rejects an unconditional cycle but accepts one through a condition or wait', () => {
    const ps = problems(
      'nodes:\n  start:\n    type: log\n    params: {message: a}\n    next: b\n  b:\n    type: transform\n    params: {expression: "1"}\n    next: start\n',
    );
    expect(ps[0].message).to.match(/cycle .* has no condition or wait/);
    expect(
      parseDefinition(
        'nodes:\n  start:\n    type: delay\n    params: {ms: 10}\n    next: b\n  b:\n    type: log\n    params: {message: a}\n    next: start\n',
      ).ok,
    ).to.equal(true);
  });

  it('rejects expressions that do not parse, in templates and expression params', () => {
    const ps = problems(
      'output: "{{ nodes.( }}"\nnodes:\n  start:\n    type: transform\n    params: {expression: "$$$("}\n    next: b\n  b:\n    type: log\n    params: {message: "x {{ ]] }}"}\n',
    );
    expect(ps.map((p) => p.path).sort()).to.deep.equal([
      'nodes.b.params.message',
      'nodes.start.params.expression',
      'output',
    ]);
  });

  it('rejects more than 500 nodes and more than 256 KiB', () => {
    const many = Array.from({ length: 501 }, (_, i) => `  n${i}:\n    type: log\n    params: {message: m}\n`).join('');
    expect(problems(`nodes:\n${many}`)[0].message).to.contain('at most 500 nodes');
    expect(
      problems(`nodes:\n  start:\n    type: log\n    params: {message: "${'x'.repeat(256 * 1024)}"}\n`)[0].message,
    ).to.contain('256 KiB');
  });

  it('reports every problem at once', () => {
    const ps = problems(
      'nodes:\n  start:\n    type: nope\n    next: a\n  a:\n    type: log\n    params: {}\n    next: ghost\n  b:\n    type: fail\n    params: {message: x}\n',
    );
    expect(ps.length).to.be.at.least(4);
    expect(new Set(ps.map((p) => p.node))).to.include.members(['start', 'a', 'b']);
  });

  it('needs an entry when it cannot tell', () => {
    const ps = problems(
      'nodes:\n  a:\n    type: log\n    params: {message: a}\n  b:\n    type: log\n    params: {message: b}\n',
    );
    expect(ps[0]).to.include({ path: 'entry' });
    expect(problems('entry: zz\nnodes:\n  a:\n    type: log\n    params: {message: a}\n')[0].message).to.contain(
      'entry "zz"',
    );
  });
});
