import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';

const root = path.resolve(__dirname, '../..');

describe('npm run generate:check', function () {
  this.timeout(180_000);

  it('fails on a hand edit of generated/ and names the file and the fix', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'flowrunner-gen-'));
    try {
      fs.cpSync(path.join(root, 'generated'), copy, { recursive: true });
      const target = path.join(copy, 'client', 'api.ts');
      fs.appendFileSync(target, '\n// a hand edit\n');
      const result = await promisify(execFile)('npx', ['tsx', 'scripts/generate.ts', '--check'], {
        cwd: root,
        env: { ...process.env, FLOWRUNNER_GENERATED_DIR: copy },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('Generated files not up to date!');
      expect(result.stderr).to.contain('generated/client/api.ts');
      expect(result.stderr).to.contain('npm run generate');
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
