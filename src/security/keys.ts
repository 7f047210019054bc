/**
 * The JWT signing secret and the secrets' encryption key: from the environment, or generated once
 * into the data folder (mode 0600) so a zero-setup start needs nothing.
 */
import crypto from 'node:crypto';
import type { Config } from '../config';
import { readOrCreateSecretFile } from '../db/data-dir';

export interface Keys {
  jwtSecret: string;
  encryptionKey: Buffer;
}

export function resolveKeys(config: Config): Keys {
  const jwtSecret =
    config.jwtSecret ??
    readOrCreateSecretFile(config.dataDir, 'jwt-secret', () => crypto.randomBytes(48).toString('base64url'));
  const encoded =
    config.encryptionKey ??
    readOrCreateSecretFile(config.dataDir, 'encryption-key', () => crypto.randomBytes(32).toString('base64'));
  return { jwtSecret, encryptionKey: Buffer.from(encoded, 'base64') };
}
