import { expect } from 'chai';
import type { ExecutionRow, StepRow } from '../../src/db/tables';
import type { FlowDocument } from '../../src/engine/definition';
import { rerunMismatches, reusedSteps, stoppedTasks } from '../../src/engine/recovery';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

let n = 0;
function step(
  node_id: string,
  attempt: number,
  status: StepRow['status'],
  started: number,
  completed: number,
): StepRow {
  n++;
  return {
    id: `step-${String(n).padStart(4, '0')}`,
    execution_id: 'exec-1',
    node_id,
    node_type: 'transform',
    attempt,
    status,
    input: null,
    output: null,
    error: status === 'failed' ? 'boom' : null,
    actor_id: null,
    started_at: status === 'cancelled' ? null : at(started),
    completed_at: at(completed),
  };
}

const execution = (patch: Partial<ExecutionRow>) =>
  ({ current_node: null, completed_at: null, ...patch }) as ExecutionRow;

const doc = (nodes: FlowDocument['nodes'], entry = 'a'): FlowDocument => ({ entry, nodes });

describe('recovery: where a finished execution stopped, what a rerun reuses', () => {
  it('restarts every step that ended the execution, each as its next attempt (parallel branches, iterations)', () => {
    const steps = [
      step('a', 1, 'completed', 1, 2),
      step('left', 1, 'failed', 3, 4),
      step('left', 2, 'failed', 5, 9),
      step('right', 1, 'cancelled', 0, 9),
      step('other', 1, 'failed', 3, 4),
    ];
    const tasks = stoppedTasks(execution({ completed_at: at(9), current_node: 'left' }), steps, doc({}));
    expect(tasks).to.deep.equal([
      { node_id: 'left', attempt: 3 },
      { node_id: 'right', attempt: 2 },
    ]);
  });

  it('falls back to the node it was at, then to the entry, when no step ended it', () => {
    const steps = [step('a', 1, 'completed', 1, 2), step('wait', 1, 'completed', 3, 4)];
    expect(stoppedTasks(execution({ completed_at: at(20), current_node: 'wait' }), steps, doc({}))).to.deep.equal([
      { node_id: 'wait', attempt: 2 },
    ]);
    expect(stoppedTasks(execution({ completed_at: at(20) }), [], doc({}, 'start'))).to.deep.equal([
      { node_id: 'start', attempt: 1 },
    ]);
  });

  it('reuses the latest completed step of each node that ran before the node a rerun starts at', () => {
    const steps = [
      step('a', 1, 'completed', 1, 2),
      step('b', 1, 'failed', 3, 4),
      step('b', 2, 'completed', 5, 6),
      step('c', 1, 'failed', 7, 8),
      step('d', 1, 'completed', 9, 10),
    ];
    expect(reusedSteps(steps, 'c')!.map((s) => [s.node_id, s.attempt])).to.deep.equal([
      ['a', 1],
      ['b', 2],
    ]);
    expect(reusedSteps(steps, 'zzz')).to.equal(undefined);
  });

  it('names what changed across versions: a reused node removed, retyped or reconfigured, a read nothing provides', () => {
    const before = doc({
      a: { type: 'transform', params: { expression: 'input.x' }, next: { default: 'b' } },
      b: { type: 'http.request', params: { url: 'https://x' }, next: { default: 'c' } },
      c: { type: 'transform', params: { expression: 'nodes.a.output & nodes.b.output' } },
    });
    expect(rerunMismatches(before, before, 'c', ['a', 'b'])).to.deep.equal([]);
    // Changing the node it starts at (the fix) is fine.
    const fixed = doc({ ...before.nodes, c: { type: 'transform', params: { expression: 'nodes.b.output' } } });
    expect(rerunMismatches(before, fixed, 'c', ['a', 'b'])).to.deep.equal([]);
    const after = doc({
      b: { type: 'transform', params: { expression: '1' }, next: { default: 'c' } },
      c: { type: 'transform', params: { expression: 'nodes.a.output & nodes.z.output' } },
    });
    expect(rerunMismatches(before, after, 'c', ['a', 'b'])).to.deep.equal([
      'node "a", whose output is reused, no longer exists',
      'node "b", whose output is reused, changed type from http.request to transform',
      'node "c" reads nodes.z, which neither completed before "c" in the original nor runs after it',
    ]);
  });
});
