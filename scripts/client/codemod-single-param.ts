/**
 * Codemod: calls of the generated client from positional parameters to one request-parameters
 * object (the generator's `useSingleRequestParameter`), and TypeScript enum members to their
 * string literals (the client's enums became string-literal unions).
 *
 *   npx tsx scripts/client/codemod-single-param.ts [files…]      default: test/**, scripts/bench/**
 *   npx tsx scripts/client/codemod-single-param.ts --extract <old api.ts>
 *       rewrite codemod-table.json from a client generated with positional parameters
 *
 * A call is rewritten when the type checker resolves it to a method of a class declared under
 * generated/client (so `client.runs.startRun(…)`, `on(b, …).runs.startRun(…)` and the like) and
 * it is still in the old form; the parameter names come from codemod-table.json (the old client's
 * signatures), so the script also converts tests written against the old client after the new one
 * is generated. Re-running it on converted code changes nothing. Prettier then formats the files it
 * changed.
 *
 *   startRun({ flow_id }, 'key-1', undefined, 5, options)
 *     → startRun({ runStartRequest: { flow_id }, idempotencyKey: 'key-1', wait: 5 }, options)
 *   Role.Admin → 'admin'
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '..', '..');
const TABLE = path.join(__dirname, 'codemod-table.json');

interface Table {
  /** `Class.method` → the positional parameter names, without `options`. */
  methods: Record<string, string[]>;
  /** `Enum.Member` → the member's literal, as source text. */
  enums: Record<string, string>;
}

function extract(apiFile: string): Table {
  const source = ts.createSourceFile(apiFile, fs.readFileSync(apiFile, 'utf8'), ts.ScriptTarget.Latest, true);
  const table: Table = { methods: {}, enums: {} };
  source.forEachChild((node) => {
    if (ts.isClassDeclaration(node) && node.name && /Api$/.test(node.name.text)) {
      for (const member of node.members) {
        if (!ts.isMethodDeclaration(member) || !ts.isIdentifier(member.name)) continue;
        const names = member.parameters.map((p) => p.name.getText(source)).filter((n) => n !== 'options');
        table.methods[`${node.name.text}.${member.name.text}`] = names;
      }
    }
    if (ts.isEnumDeclaration(node)) {
      for (const member of node.members) {
        if (member.initializer)
          table.enums[`${node.name.text}.${member.name.getText(source)}`] = member.initializer.getText(source);
      }
    }
  });
  return table;
}

function listTs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return listTs(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const isGeneratedClient = (file: string) =>
  path.resolve(file).startsWith(path.join(root, 'generated', 'client') + path.sep);

interface Edit {
  start: number;
  end: number;
  text: string;
}

function convertCall(
  call: ts.CallExpression,
  names: string[],
  source: ts.SourceFile,
  checker: ts.TypeChecker,
): Edit | null {
  const args = call.arguments;
  if (args.length === 0 || names.length === 0) return null;
  // Already in the new form: one object whose keys are all parameter names (plus options, maybe).
  if (args.length <= 2) {
    const keys = checker
      .getTypeAtLocation(args[0])
      .getProperties()
      .map((p) => p.name);
    if (keys.length > 0 && keys.every((k) => names.includes(k))) return null;
  }
  const positional = args.slice(0, names.length);
  const rest = args.slice(names.length); // options
  const props: string[] = [];
  positional.forEach((arg, i) => {
    if (arg.kind === ts.SyntaxKind.Identifier && (arg as ts.Identifier).text === 'undefined') return;
    const text = arg.getText(source);
    props.push(text === names[i] ? text : `${names[i]}: ${text}`);
  });
  const parts = [props.length ? `{ ${props.join(', ')} }` : '{}', ...rest.map((a) => a.getText(source))];
  if (props.length === 0 && rest.length === 0) return { start: args.pos, end: args.end, text: '' };
  return { start: args[0].getStart(source), end: args[args.length - 1].getEnd(), text: parts.join(', ') };
}

/** One pass over the files; returns how many edits it made. */
function apply(files: string[], table: Table, changed: Set<string>): number {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const program = ts.createProgram({
    rootNames: [...new Set([...config.fileNames, ...files])],
    options: config.options,
  });
  const checker = program.getTypeChecker();
  const enumClasses = new Set(Object.keys(table.enums).map((k) => k.split('.')[0]));
  let total = 0;
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`not in the program: ${file}`);
    const edits: Edit[] = [];
    // Names imported from the generated client in this file (enums are matched only through them).
    const importedFromClient = new Map<string, ts.ImportSpecifier>();
    for (const stmt of source.statements) {
      if (!ts.isImportDeclaration(stmt) || !ts.isStringLiteral(stmt.moduleSpecifier)) continue;
      if (!/generated\/client|@flowrunner\/client/.test(stmt.moduleSpecifier.text)) continue;
      const bindings = stmt.importClause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) importedFromClient.set(el.name.text, el);
      }
    }
    const usedEnums = new Set<string>();
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
        const symbol = checker.getSymbolAtLocation(node.expression.name);
        const decl = symbol?.declarations?.[0];
        if (decl && ts.isMethodDeclaration(decl) && isGeneratedClient(decl.getSourceFile().fileName)) {
          const cls = decl.parent;
          if (ts.isClassDeclaration(cls) && cls.name) {
            const names = table.methods[`${cls.name.text}.${node.expression.name.text}`];
            const edit = names && convertCall(node, names, source, checker);
            if (edit) edits.push(edit);
          }
        }
      }
      // followExecution({ basePath }) → followExecution({ baseUrl }) (the option was renamed).
      if (
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'followExecution' &&
        node.arguments[0] &&
        ts.isObjectLiteralExpression(node.arguments[0])
      ) {
        for (const prop of node.arguments[0].properties) {
          if (prop.name && ts.isIdentifier(prop.name) && prop.name.text === 'basePath') {
            const text = ts.isShorthandPropertyAssignment(prop) ? 'baseUrl: basePath' : 'baseUrl';
            edits.push({ start: prop.name.getStart(source), end: prop.name.getEnd(), text });
          }
        }
      }
      if (
        ts.isPropertyAccessExpression(node) &&
        ts.isIdentifier(node.expression) &&
        importedFromClient.has(node.expression.text) &&
        enumClasses.has(node.expression.text)
      ) {
        const literal = table.enums[`${node.expression.text}.${node.name.text}`];
        if (literal) {
          edits.push({ start: node.getStart(source), end: node.getEnd(), text: literal });
          usedEnums.add(node.expression.text);
          return;
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    if (edits.length === 0) continue;
    let text = applyEdits(source.getFullText(), edits);
    // Enum imports no longer used as values or types are dropped.
    for (const name of usedEnums) {
      const rest = text.replace(new RegExp(`import[^;]*?\\b${name}\\b[^;]*?;`, 'gs'), '');
      if (new RegExp(`\\b${name}\\b`).test(rest)) continue;
      text = text.replace(new RegExp(`(import[^;]*?)\\b${name}\\b,?\\s*([^;]*?;)`, 's'), '$1$2');
      text = text.replace(/import\s*(type\s*)?\{\s*\}\s*from\s*'[^']*';\n/g, '');
    }
    fs.writeFileSync(file, text);
    changed.add(file);
    total += edits.length;
    console.log(`${path.relative(root, file)}: ${edits.length} edits`);
  }
  return total;
}

/** Applies the innermost edits (a call inside another call's arguments is done in a later pass). */
function applyEdits(text: string, edits: Edit[]): string {
  const innermost = edits.filter((e) => !edits.some((o) => o !== e && o.start >= e.start && o.end <= e.end));
  innermost.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of innermost) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--extract') {
    fs.writeFileSync(TABLE, JSON.stringify(extract(path.resolve(args[1])), null, 2) + '\n');
    console.log(`wrote ${path.relative(root, TABLE)}`);
    return;
  }
  const table = JSON.parse(fs.readFileSync(TABLE, 'utf8')) as Table;
  const files = args.length
    ? args.map((f) => path.resolve(f))
    : [...listTs(path.join(root, 'test')), ...listTs(path.join(root, 'scripts', 'bench'))];
  // Calls nested in another call's arguments are converted one level per pass.
  const changed = new Set<string>();
  for (let pass = 1; pass <= 5 && apply(files, table, changed) > 0; pass++) console.log(`pass ${pass} done`);
  // The rewritten calls are longer: Prettier lays them out as the rest of the code.
  if (changed.size > 0)
    execFileSync(path.join(root, 'node_modules', '.bin', 'prettier'), ['--write', ...changed], { stdio: 'inherit' });
}

main();
