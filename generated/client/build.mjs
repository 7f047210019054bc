// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with its declarations and a
// package.json that tells Node (and TypeScript) which module format its files are.
// Run by `npm run build` and `npm pack` (prepack). DO NOT EDIT in generated/: from scripts/client/package.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

fs.rmSync('dist', { recursive: true, force: true });
for (const [project, dir, type] of [
  ['tsconfig.json', 'dist/esm', 'module'],
  ['tsconfig.cjs.json', 'dist/cjs', 'commonjs'],
]) {
  execFileSync('tsc', ['-p', project, '--outDir', dir], { stdio: 'inherit', shell: process.platform === 'win32' });
  fs.writeFileSync(`${dir}/package.json`, JSON.stringify({ type }) + '\n');
}
