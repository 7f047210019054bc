import fs from 'node:fs';
import path from 'node:path';

/**
 * A value generated once and kept in the data folder, readable by the owner only (0600): the
 * embedded database's password and, when the environment gives none, the JWT and encryption keys.
 */
export function readOrCreateSecretFile(dataDir: string, name: string, create: () => string): string {
  const file = path.join(dataDir, name);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const value = create();
  try {
    fs.writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
    return value;
  } catch (err) {
    // Another process wrote it first: theirs wins, so every process shares one value.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFileSync(file, 'utf8').trim();
    throw err;
  }
}
