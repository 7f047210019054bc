/**
 * Create or edit a flow: name, description, tags and the YAML in CodeMirror. Saving shows the
 * server's validation errors at their line; versions can be compared line by line.
 */
import { useState } from 'preact/hooks';
import { ErrorBox, problemsOf, type FieldProblem } from '../errors';
import { YamlEditor } from '../components/yaml-editor';
import { Triggers } from '../components/triggers';
import { VersionDiff } from '../components/version-diff';
import { href, navigate } from '../router';
import type { Session } from '../session';
import { useLoad } from '../use-load';

const TEMPLATE = `inputs:
  type: object
  required: [name]
  properties: {name: {type: string}}
nodes:
  start:
    type: transform
    params: {expression: "{'greeting': 'Hello ' & input.name}"}
`;

export function FlowEditPage({ session, id }: { session: Session; id?: string }) {
  const { data: flow, error: loadError } = useLoad(
    async () => (id ? (await session.client.flows.getFlow({ id })).data : null),
    [id],
  );
  if (loadError) return <ErrorBox error={loadError} />;
  if (id && !flow) return <p class="muted">Loading…</p>;
  return <FlowForm session={session} flow={flow ?? null} />;
}

interface Editable {
  id: string;
  name: string;
  description: string;
  tags: string[];
  definition: string;
}

function FlowForm({ session, flow }: { session: Session; flow: Editable | null }) {
  const [name, setName] = useState(flow?.name ?? '');
  const [description, setDescription] = useState(flow?.description ?? '');
  const [tags, setTags] = useState((flow?.tags ?? []).join(', '));
  const [definition, setDefinition] = useState(flow?.definition ?? TEMPLATE);
  const [error, setError] = useState<unknown>(null);
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [versionsTick, setVersionsTick] = useState(0);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved(null);
    setError(null);
    const fields = {
      name,
      description,
      definition,
      tags: tags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    };
    try {
      if (flow) {
        const { data } = await session.client.flows.updateFlow({ id: flow.id, flowUpdate: fields });
        setSaved(`Saved as version ${data.version_number ?? ''}`);
        setVersionsTick((t) => t + 1);
      } else {
        const { data } = await session.client.flows.createFlow({ flowCreate: fields });
        navigate('flows', data.id);
      }
      setProblems([]);
    } catch (err) {
      setError(err);
      setProblems(problemsOf(err).filter((p) => p.line !== undefined || p.node !== undefined));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <div class="row" style="justify-content: space-between">
        <h1>{flow ? `Flow ${flow.name}` : 'New flow'}</h1>
        {flow && (
          <span class="row">
            <a href={href('flows', flow.id, 'run')}>Run</a>
            <a href={href('flows', flow.id, 'executions')}>Executions</a>
          </span>
        )}
      </div>
      <form onSubmit={(e) => void save(e)} class="card">
        <div class="row">
          <div>
            <label for="flow-name">Name</label>
            <input id="flow-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <div>
            <label for="flow-description">Description</label>
            <input id="flow-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </div>
          <div>
            <label for="flow-tags">Tags (comma separated)</label>
            <input id="flow-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
          </div>
        </div>
        <h2 id="definition-heading">Definition (YAML)</h2>
        <YamlEditor initial={definition} onChange={setDefinition} problems={problems} label="Definition (YAML)" />
        <p class="row">
          <button type="submit" disabled={busy}>
            Save
          </button>
          {saved && (
            <span role="status" class="notice">
              {saved}
            </span>
          )}
        </p>
        <ErrorBox error={error} />
      </form>
      {flow && <Triggers session={session} flowId={flow.id} />}
      {flow && <VersionDiff session={session} flowId={flow.id} key={versionsTick} />}
    </>
  );
}
