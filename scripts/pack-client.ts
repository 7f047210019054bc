/**
 * Packs the generated client as an integrator gets it: `npm pack` of a copy of generated/client
 * (its prepack builds dist/ with our TypeScript), so generated/ itself never holds a build.
 *
 *   npm run client:pack      pack into a temp folder, check the tarball with publint and
 *                            @arethetypeswrong/cli, print its path
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'node_modules', '.bin');

/** Packs generated/client into `dest`; returns the tarball's path. */
export function packClient(dest: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-client-src-'));
  try {
    fs.cpSync(path.join(root, 'generated', 'client'), copy, { recursive: true });
    // The build resolves axios' types and finds tsc where the project has them.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dest], {
      cwd: copy,
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const name = out.trim().split('\n').pop() ?? '';
    return path.join(dest, name);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * publint (package.json against the files) and arethetypeswrong (types per resolution mode);
 * throws with their report when either finds a problem, else returns the reports.
 */
export function checkTarball(tarball: string): string {
  const report = (tool: string, args: string[]) => {
    try {
      return execFileSync(path.join(bin, tool), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const { stdout, stderr } = err as { stdout?: string; stderr?: string };
      throw new Error(`${tool} found problems in ${tarball}:\n${stdout ?? ''}${stderr ?? ''}`);
    }
  };
  return report('publint', ['--strict', tarball]) + report('attw', ['--no-color', tarball]);
}

if (require.main === module) {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-client-'));
  const tarball = packClient(dest);
  console.log(checkTarball(tarball));
  console.log(tarball);
}
