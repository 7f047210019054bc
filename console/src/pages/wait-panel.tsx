/** What a waiting execution waits for, and the form that answers it: approve/reject, or an input's outcome and values. */
import { useState } from 'preact/hooks';
import type { Execution } from '@flowrunner/client';
import { SchemaForm, type JsonSchema } from '../components/schema-form';
import { ErrorBox } from '../errors';
import type { Session } from '../session';
import { useLoad } from '../use-load';

interface Props {
  session: Session;
  execution: Execution;
  onDone: () => void;
}

export function WaitPanel({ session, execution, onDone }: Props) {
  const wait = execution.waiting_for!;
  return (
    <section class="card" aria-labelledby="wait-heading">
      <h2 id="wait-heading">
        Waiting for {wait.kind}
        {wait.node_id ? ` at ${wait.node_id}` : ''}
      </h2>
      {wait.deadline && <p class="muted">Deadline: {new Date(wait.deadline).toLocaleString()}</p>}
      {wait.kind === 'approval' && <ApprovalForm {...{ session, execution, onDone }} />}
      {wait.kind === 'input' && <InputForm {...{ session, execution, onDone }} />}
      {wait.kind === 'subflow' && wait.child_execution_id && (
        <p>
          Child execution{' '}
          <a href={`#/executions/${encodeURIComponent(wait.child_execution_id)}`}>{wait.child_execution_id}</a>
        </p>
      )}
    </section>
  );
}

function ApprovalForm({ session, execution, onDone }: Props) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const decide = async (approve: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const request = { id: execution.id, decision: comment ? { comment } : {} };
      if (approve) await session.client.humanInTheLoop.approveExecution(request);
      else await session.client.humanInTheLoop.rejectExecution(request);
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => e.preventDefault()}>
      <label for="decision-comment">Comment</label>
      <textarea
        id="decision-comment"
        rows={2}
        cols={50}
        value={comment}
        onInput={(e) => setComment(e.currentTarget.value)}
      />
      <p class="row">
        <button type="button" disabled={busy} onClick={() => void decide(true)}>
          Approve
        </button>
        <button type="button" class="danger" disabled={busy} onClick={() => void decide(false)}>
          Reject
        </button>
      </p>
      <ErrorBox error={error} />
    </form>
  );
}

function InputForm({ session, execution, onDone }: Props) {
  const wait = execution.waiting_for!;
  const outcomes = wait.outcomes ?? [];
  const [outcome, setOutcome] = useState(outcomes[0]?.name ?? '');
  const [error, setError] = useState<unknown>(null);
  const definition = useLoad(
    async () => (await session.client.executions.getExecutionDefinition({ id: execution.id })).data.document,
    [execution.id],
  );
  if (definition.error) return <ErrorBox error={definition.error} />;
  if (!definition.data) return <p class="muted">Loading…</p>;
  const nodes = (definition.data.nodes ?? {}) as Record<
    string,
    { params?: { prompt?: string; values_schema?: JsonSchema } }
  >;
  const params = (wait.node_id && nodes[wait.node_id]?.params) || {};
  const answer = async (values: Record<string, unknown>) => {
    setError(null);
    try {
      await session.client.humanInTheLoop.signalExecution({
        id: execution.id,
        signal: { node_id: wait.node_id!, outcome, values },
      });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div>
      {params.prompt && <p>{params.prompt}</p>}
      <label for="signal-outcome">Outcome</label>
      <select id="signal-outcome" value={outcome} onChange={(e) => setOutcome(e.currentTarget.value)}>
        {outcomes.map((o) => (
          <option key={o.name} value={o.name}>
            {o.label ?? o.name}
          </option>
        ))}
      </select>
      <SchemaForm schema={params.values_schema} idPrefix="signal-values" onSubmit={answer} submitLabel="Send answer" />
      <ErrorBox error={error} />
    </div>
  );
}
