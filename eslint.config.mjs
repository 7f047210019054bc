// ESLint: type-aware TypeScript rules, and the layer map of ARCHITECTURE.md as import boundaries.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first. A folder may import the ones listed in `may`, and nothing else
 * of src/ (its own files always). Keep this list and ARCHITECTURE.md's code map the same.
 */
const CORE = ['src/config.ts', 'src/log.ts', 'src/errors.ts'];
const LAYERS = {
  'src/db': { may: [...CORE] },
  'src/security': { may: [...CORE, 'src/db/data-dir.ts'] },
  'src/repositories': { may: [...CORE, 'src/db'] },
  'src/presenters': { may: [...CORE, 'src/db/tables.ts'] },
  'src/engine': { may: [...CORE, 'src/db', 'src/security', 'src/repositories', 'src/presenters'] },
  'src/services': { may: [...CORE, 'src/db', 'src/security', 'src/repositories', 'src/presenters', 'src/engine'] },
  // The hub reads events for many subscribers at once, below any one caller's permission check.
  'src/realtime': {
    may: [...CORE, 'src/db', 'src/repositories', 'src/presenters', 'src/engine/notifier.ts', 'src/services'],
  },
  'src/controllers': { may: [...CORE, 'src/presenters', 'src/services', 'src/http/operations.ts'] },
  'src/http': { may: [...CORE, 'src/db/errors.ts', 'src/services', 'src/controllers'] },
};
const ALL = [...CORE, ...Object.keys(LAYERS), 'src/main.ts'];

/** import-x/no-restricted-paths zones: for each layer, one zone per part of src/ it may not import. */
const MESSAGE = 'goes against the layer map (LAYERS in eslint.config.mjs, the code map in ARCHITECTURE.md)';
const zones = Object.entries(LAYERS).flatMap(([target, { may }]) =>
  ALL.filter((other) => other !== target && !may.includes(other)).map((other) => ({
    target: `./${target}`,
    from: `./${other}`,
    except: may.filter((m) => m.startsWith(`${other}/`)).map((m) => `./${m.slice(other.length + 1)}`),
    message: `${target} may not import ${other}: ${MESSAGE}.`,
  })),
);
const coreZones = CORE.map((file) => ({
  target: `./${file}`,
  from: ALL.filter((f) => !CORE.includes(f)).map((f) => `./${f}`),
  message: 'config, log and errors are the bottom layer: they import nothing else of src/.',
}));

export default tseslint.config(
  { ignores: ['generated/**', 'node_modules/**', '.flowrunner/**', 'scripts/client/**', 'dist/**', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // no-cycle follows only the files it can parse: ours are .ts.
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: [...zones, ...coreZones] }],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'knex', message: 'SQL lives in src/repositories (and src/db); use the Db/Tx types of db/knex.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/repositories/**/*.ts', 'src/db/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Transactions enter through db/transaction.ts, which runs them again when PostgreSQL aborts
    // them for a serialization failure or a deadlock.
    files: ['src/**/*.ts'],
    ignores: ['src/db/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='transaction']",
          message: 'Open transactions with inTransaction (src/db/transaction.ts): it retries 40001 and 40P01.',
        },
      ],
    },
  },
);
