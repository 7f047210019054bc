/** Which version a start runs, and the approval rule it waits for (issue 15). */
import { expect } from 'chai';
import type { FlowWithDefinition } from '../../src/db/tables';
import { ValidationError } from '../../src/errors';
import { effectiveApproval, startTarget } from '../../src/services/start-rules';

const flow = (live: number | null): FlowWithDefinition =>
  ({
    id: 'flow-1',
    current_version: 3,
    live_version: live,
    document: { nodes: {}, entry: 'v3' },
    live_document: live === null ? null : { nodes: {}, entry: `v${live}` },
  }) as unknown as FlowWithDefinition;

describe('start rules', () => {
  describe('startTarget', () => {
    it('runs the latest (draft) until a version is live, then the live one', () => {
      expect(startTarget(flow(null))).to.deep.include({ stage: 'draft', version: 3 });
      expect(startTarget(flow(2))).to.deep.include({ stage: 'live', version: 2, document: { nodes: {}, entry: 'v2' } });
      expect(startTarget(flow(2), 'draft')).to.deep.include({ stage: 'draft', version: 3 });
    });

    it('an exact version is live when it is the live one; one neither latest nor live must be read', () => {
      expect(startTarget(flow(2), undefined, 2)).to.deep.include({ stage: 'live', version: 2 });
      expect(startTarget(flow(2), undefined, 1)).to.deep.equal({ stage: 'draft', version: 1, document: undefined });
      expect(startTarget(flow(2), 'draft', 2)).to.deep.include({ stage: 'draft', version: 2 });
    });

    it('refuses live without a live version, and an exact version with stage live that is not it', () => {
      expect(() => startTarget(flow(null), 'live')).to.throw(ValidationError, 'no live version');
      expect(() => startTarget(flow(2), 'live', 3)).to.throw(ValidationError, 'not the flow');
    });
  });

  describe('effectiveApproval', () => {
    it('none when neither asks; the run alone may ask', () => {
      expect(effectiveApproval(undefined, undefined)).to.equal(undefined);
      expect(effectiveApproval({ required: false }, { required: false })).to.equal(undefined);
      expect(effectiveApproval(undefined, { approvers: ['a'] })).to.deep.equal({
        approvers: ['a'],
        no_self_approval: false,
      });
    });

    it('never looser than the flow: required and no_self_approval stay; approvers only narrow', () => {
      const rule = { required: true, approvers: ['a', 'b'], no_self_approval: true };
      expect(effectiveApproval(rule, { required: false, no_self_approval: false })).to.deep.equal({
        approvers: ['a', 'b'],
        no_self_approval: true,
      });
      expect(effectiveApproval(rule, { approvers: ['b', 'c'] })).to.deep.equal({
        approvers: ['b'],
        no_self_approval: true,
      });
      expect(effectiveApproval({ required: true }, { no_self_approval: true })).to.deep.equal({
        approvers: [],
        no_self_approval: true,
      });
      expect(() => effectiveApproval(rule, { approvers: ['c'] })).to.throw(ValidationError, 'approvers');
    });
  });
});
