/** A JSON value, collapsible. */
export function JsonView({ value, label, open = false }: { value: unknown; label: string; open?: boolean }) {
  return (
    <details open={open}>
      <summary>{label}</summary>
      <pre>{value === undefined ? '—' : JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}
