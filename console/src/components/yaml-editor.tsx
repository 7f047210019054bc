/** The flow's YAML in CodeMirror 6, with the server's validation errors shown at their line and column. */
import { yaml } from '@codemirror/lang-yaml';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { basicSetup, EditorView } from 'codemirror';
import { useEffect, useRef } from 'preact/hooks';
import type { FieldProblem } from '../errors';

interface Props {
  initial: string;
  onChange: (text: string) => void;
  problems: FieldProblem[];
  label: string;
}

function diagnosticsFor(view: EditorView, problems: FieldProblem[]): Diagnostic[] {
  const doc = view.state.doc;
  return problems.map((p) => {
    const line = doc.line(Math.min(Math.max(p.line ?? 1, 1), doc.lines));
    const from = Math.min(line.from + Math.max((p.column ?? 1) - 1, 0), line.to);
    const to = from < line.to ? line.to : Math.min(from + 1, doc.length);
    return { from, to, severity: 'error', message: p.field ? `${p.field}: ${p.message}` : p.message };
  });
}

export function YamlEditor({ initial, onChange, problems, label }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const editor = new EditorView({
      doc: initial,
      parent: host.current!,
      extensions: [
        basicSetup,
        yaml(),
        lintGutter(),
        EditorView.contentAttributes.of({ 'aria-label': label }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) changed.current(update.state.doc.toString());
        }),
      ],
    });
    view.current = editor;
    return () => editor.destroy();
    // The editor owns its text after the first render; `initial` only seeds it.
  }, []);

  useEffect(() => {
    const editor = view.current;
    if (editor) editor.dispatch(setDiagnostics(editor.state, diagnosticsFor(editor, problems)));
  }, [problems]);

  /** Moves the cursor to a problem (from the list under the editor). */
  const focusProblem = (p: FieldProblem) => {
    const editor = view.current;
    if (!editor) return;
    const [d] = diagnosticsFor(editor, [p]);
    editor.dispatch({ selection: { anchor: d.from }, scrollIntoView: true });
    editor.focus();
  };

  return (
    <div>
      <div class="editor" ref={host} />
      {problems.length > 0 && (
        <ul class="problems" aria-label="Problems in the definition">
          {problems.map((p, i) => (
            <li key={i}>
              <button type="button" class="secondary" onClick={() => focusProblem(p)}>
                Line {p.line ?? 1}
                {p.column !== undefined ? `:${p.column}` : ''}
              </button>{' '}
              {p.node && <code>{p.node}</code>} {p.field && <code>{p.field}</code>} {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
