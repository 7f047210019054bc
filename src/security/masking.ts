/**
 * Replaces secret values with `***` in anything a run writes: steps, events, results, errors.
 */
export const MASK = '***';

export class Masker {
  private readonly values: string[];

  constructor(values: Iterable<string>) {
    // Longest first, so a secret that contains another is masked whole. Very short values would
    // mask ordinary text everywhere; they are still masked where they stand alone.
    this.values = [...new Set(values)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.values.length === 0;
  }

  text(s: string): string {
    let out = s;
    for (const v of this.values) {
      if (v.length < 4) {
        if (out === v) return MASK;
        continue;
      }
      out = out.split(v).join(MASK);
    }
    return out;
  }

  /** A deep copy of a JSON value with every string masked. */
  json<T>(value: T): T {
    if (this.empty) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.text(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v instanceof Date) return v;
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return walk(value) as T;
  }
}
