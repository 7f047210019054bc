/**
 * Renders the node-type reference of the README from the registry (src/engine/nodes), between
 * the markers below, so it is never written twice. `--check` fails when the README is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NODE_TYPES } from '../src/engine/nodes';

const README = path.resolve(__dirname, '..', 'README.md');
const START = '<!-- node-types:start (generated from src/engine/nodes by npm run generate) -->';
const END = '<!-- node-types:end -->';

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  format?: string;
  oneOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
};

function typeOf(s: Schema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.oneOf) return s.oneOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (Array.isArray(s.type)) return s.type.join(' or ');
  return s.type ? `${s.type}${s.format ? ` (${s.format})` : ''}` : 'any JSON';
}

export function renderNodeTypes(): string {
  const parts = NODE_TYPES.map((t) => {
    const schema = t.paramsSchema as Schema;
    const required = new Set(schema.required ?? []);
    const rows = Object.entries(schema.properties ?? {}).map(([name, p]) => {
      const notes = [
        p.description,
        p.default !== undefined ? `default \`${JSON.stringify(p.default)}\`` : undefined,
        p.minimum !== undefined && p.maximum !== undefined ? `${p.minimum}–${p.maximum}` : undefined,
      ]
        .filter(Boolean)
        .join('; ');
      return `| \`${name}\` | ${typeOf(p)} | ${required.has(name) ? 'yes' : ''} | ${notes} |`;
    });
    const outcomes = t.outcomes?.({}) ?? [];
    return [
      `#### \`${t.type}\``,
      '',
      t.description,
      '',
      '| param | type | required | notes |',
      '|---|---|---|---|',
      ...rows,
      '',
      `Output: ${t.output}.${outcomes.length > 0 ? ` Outcomes: ${outcomes.map((o) => `\`${o}\``).join(', ')}.` : ''}`,
    ].join('\n');
  });
  return `${START}\n${parts.join('\n\n')}\n${END}`;
}

function replaceSection(readme: string): string {
  const i = readme.indexOf(START);
  const j = readme.indexOf(END);
  if (i < 0 || j < 0) throw new Error(`README.md lacks the markers ${START} … ${END}`);
  return readme.slice(0, i) + renderNodeTypes() + readme.slice(j + END.length);
}

export function readmeIsCurrent(): boolean {
  const readme = fs.readFileSync(README, 'utf8');
  return replaceSection(readme) === readme;
}

export function writeReadme(): void {
  fs.writeFileSync(README, replaceSection(fs.readFileSync(README, 'utf8')));
}

if (require.main === module) {
  if (process.argv.includes('--check')) {
    if (!readmeIsCurrent()) {
      console.error('The node-type reference in README.md is out of date. Fix: npm run generate');
      process.exit(1);
    }
  } else writeReadme();
}
