/**
 * What the engine needs from above it, declared here so that it imports nothing above it: the
 * services implement these (they seal the secrets, so they know how to open them) and main wires
 * them in.
 */
import type { InvalidationBus } from '../db/invalidation';
import type { ListenerRow } from '../db/tables';
import type { Masker } from '../security/masking';
import type { ExecutionStarter } from './starter';

/** An organization's secrets for one step: the values by key, and a masker that hides every one of them. */
export interface RunSecrets {
  values: Record<string, string>;
  masker: Masker;
}

export interface RunSecretsSource {
  /**
   * Decrypts an organization's secrets (an execution's are its organization's, whoever started
   * it); read for every step, so a secret changed a moment ago is used at once (a cache in front
   * of it is invalidated synchronously by a change in this process).
   */
  resolveForRun(organizationId: string): Promise<RunSecrets>;
}

/** A connection as a step uses it: what may be shown, and the secret parts opened. */
export interface RunConnection {
  id: string;
  name: string;
  type: 'api_key' | 'basic' | 'bearer' | 'oauth2_client_credentials';
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
  /** Changes whenever the connection does (a cached token of an older version is not used). */
  version: string;
}

export interface RunConnectionsSource {
  /** An organization's connection by name, opened; undefined when it has none of that name. */
  resolveConnection(organizationId: string, name: string): Promise<RunConnection | undefined>;
}

export interface ListenerSecrets {
  /** The secret a listener's deliveries are signed with. */
  secretOf(listener: ListenerRow): string;
}

/** Everything `startEngine` takes from outside the engine. */
export interface EngineDeps {
  secrets: RunSecretsSource;
  connections: RunConnectionsSource;
  listeners: ListenerSecrets;
  /** Handed this process's worker, to give it the entry tasks of starts made here. */
  starter: ExecutionStarter;
  /** The caches above the engine, told what changed through the engine's LISTEN connection. */
  invalidations: InvalidationBus;
}
