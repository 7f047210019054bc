/** Run a flow with an input form generated from its `inputs` schema. */
import { useState } from 'preact/hooks';
import { parse } from 'yaml';
import { SchemaForm, type JsonSchema } from '../components/schema-form';
import { ErrorBox } from '../errors';
import { href, navigate } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';

/**
 * A start's Idempotency-Key (so the client's retries never start it twice). Made here from
 * getRandomValues: crypto.randomUUID, which the client would use, exists only in secure contexts,
 * and the console may be opened over plain HTTP on a private network.
 */
function startKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function inputsOf(definition: string): JsonSchema | null {
  try {
    const doc = parse(definition) as { inputs?: JsonSchema } | null;
    return doc?.inputs ?? null;
  } catch {
    return null;
  }
}

export function RunPage({ session, id }: { session: Session; id: string }) {
  const { data: flow, error: loadError } = useLoad(async () => (await session.client.flows.getFlow({ id })).data, [id]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (loadError) return <ErrorBox error={loadError} />;
  if (!flow) return <p class="muted">Loading…</p>;
  const run = async (input: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    try {
      const { data } = await session.client.executions.runFlow({
        id,
        runFlowRequest: { input },
        idempotencyKey: startKey(),
      });
      navigate('executions', data.execution_id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h1>
        Run <a href={href('flows', flow.id)}>{flow.name}</a>
      </h1>
      <div class="card">
        <SchemaForm
          schema={inputsOf(flow.definition)}
          idPrefix="run-input"
          onSubmit={run}
          submitLabel="Run"
          busy={busy}
        />
        <ErrorBox error={error} />
      </div>
    </>
  );
}
