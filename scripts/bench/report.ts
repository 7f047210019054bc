/** Figures for people: percentiles, rounding, and the Markdown summary the README takes as is. */

export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
export const ratio = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');

export interface Row {
  scenario: string;
  figure: string;
  baseline: string;
  ratio: string;
}

/** Collects every printed figure, next to its baseline, for the final table. */
export class Summary {
  readonly rows: Row[] = [];

  add(row: Row): void {
    this.rows.push(row);
    console.log(
      `  → ${row.scenario}: ${row.figure}${row.baseline ? ` | baseline ${row.baseline}` : ''}${row.ratio ? ` | ${row.ratio}` : ''}`,
    );
  }

  markdown(): string {
    const cell = (s: string) => s.replace(/\|/g, '\\|');
    return [
      '| scenario | FlowRunner | baseline (same run) | ratio |',
      '|---|---|---|---|',
      ...this.rows.map((r) => `| ${cell(r.scenario)} | ${cell(r.figure)} | ${cell(r.baseline)} | ${cell(r.ratio)} |`),
    ].join('\n');
  }
}
