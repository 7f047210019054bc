/**
 * A real OpenID provider (the certified `oidc-provider` package) on loopback, issuing JWT access
 * tokens by the client-credentials grant: each test person is a client of its own (the token's
 * `sub` is the client id), and `extraTokenClaims` adds the person's email, name and roles, as an
 * identity provider configured for an API adds them. Discovery, the JWKS and the token endpoint are
 * the provider's own; `rotateKeys` restarts it behind the same issuer with a new signing key.
 *
 * For browser sign-in it also runs the authorization code flow, PKCE required, with the package's
 * own login and consent pages (devInteractions: a login name and any password; "Continue" to
 * consent; "[ Cancel ]" answers `access_denied`) and RP-initiated logout: `addSignInClient`
 * registers a relying party, `addUser` a person who signs in by a login name (their `sub`), whose
 * email, name and roles go into the ID token.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, {
  errors,
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
  type JWK,
} from 'oidc-provider';

export const API_AUDIENCE = 'https://api.flowrunner.test';
/** Same audience, three-second tokens (the expiry test). */
export const SHORT_LIVED_RESOURCE = 'https://api.flowrunner.test/short-lived';
/** Another API of the same provider: its tokens are not meant for FlowRunner. */
export const OTHER_API = 'https://other-api.example';

export interface Person {
  email?: string;
  email_verified?: boolean;
  name?: string;
  roles?: string[];
}

export interface SignInClient {
  client_id: string;
  /** Absent: a public client (PKCE alone). */
  client_secret?: string;
  redirect_uri: string;
  post_logout_redirect_uri: string;
}

export interface TestIdentityProvider {
  issuer: string;
  /** Registers a relying party of the authorization code flow. */
  addSignInClient(client: SignInClient): void;
  /** Registers a person who signs in on the login page with the returned login name (also their `sub`). */
  addUser(person: Person): string;
  /** Registers a person (a client) and returns its subject. */
  addPerson(person: Person): string;
  /** An access token of the person, for `resource` (FlowRunner's audience by default). */
  token(subject: string, resource?: string): Promise<string>;
  /** A new signing key, published first; `keepOld` keeps the old one in the key set too. */
  rotateKeys(opts?: { keepOld: boolean }): Promise<void>;
  /** The current signing key (private), to forge tokens with a key the tests control. */
  signingKey(): JWK;
  close(): Promise<void>;
}

/** The provider's store, in memory (its own default says so on every start). */
function memoryAdapter(): Adapter {
  const rows = new Map<string, AdapterPayload>();
  const find = async (test: (p: AdapterPayload) => boolean) => [...rows.values()].find(test);
  return {
    upsert: async (id, payload) => void rows.set(id, payload),
    find: async (id) => rows.get(id),
    findByUserCode: (code) => find((p) => p.userCode === code),
    findByUid: (uid) => find((p) => p.uid === uid),
    consume: async (id) => void (rows.get(id) && (rows.get(id)!.consumed = Math.floor(Date.now() / 1000))),
    destroy: async (id) => void rows.delete(id),
    revokeByGrantId: async (grantId) => {
      for (const [id, p] of rows) if (p.grantId === grantId) rows.delete(id);
    },
  };
}

function newSigningKey(): JWK {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: crypto.randomUUID(), use: 'sig', alg: 'ES256' };
}

export async function startIdentityProvider(): Promise<TestIdentityProvider> {
  const people = new Map<string, Person>();
  const users = new Map<string, Person>();
  const clients: ClientMetadata[] = [];
  let keys = [newSigningKey()];
  let provider: Provider;

  const server = http.createServer((req, res) => void provider.callback()(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const resourceServer = (audience: string, accessTokenTTL: number) => ({
    audience,
    accessTokenTTL,
    accessTokenFormat: 'jwt' as const,
    scope: 'api',
    jwt: { sign: { alg: 'ES256' as const } },
  });

  const build = () => {
    const configuration: Configuration = {
      adapter: memoryAdapter,
      ttl: { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600 },
      clients,
      clientDefaults: { id_token_signed_response_alg: 'ES256' },
      jwks: { keys },
      // Scope claims in the ID token too (the relying party reads the ID token, not userinfo).
      conformIdTokenClaims: false,
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'roles'] },
      findAccount: (_ctx, id) => {
        const person = users.get(id);
        return person ? { accountId: id, claims: () => ({ sub: id, ...person }) } : undefined;
      },
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: true },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => API_AUDIENCE,
          getResourceServerInfo: (_ctx, resource) => {
            if (resource === API_AUDIENCE) return resourceServer(API_AUDIENCE, 3600);
            if (resource === SHORT_LIVED_RESOURCE) return resourceServer(API_AUDIENCE, 3);
            if (resource === OTHER_API) return resourceServer(OTHER_API, 3600);
            throw new errors.InvalidTarget();
          },
        },
      },
      extraTokenClaims: (_ctx, token) => {
        const person = people.get((token as { clientId?: string }).clientId ?? '');
        return person ? { ...person } : undefined;
      },
    };
    provider = new Provider(issuer, configuration);
  };
  build();

  return {
    issuer,
    addSignInClient(client) {
      clients.push({
        client_id: client.client_id,
        ...(client.client_secret === undefined
          ? { token_endpoint_auth_method: 'none' }
          : { client_secret: client.client_secret, token_endpoint_auth_method: 'client_secret_basic' }),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [client.redirect_uri],
        post_logout_redirect_uris: [client.post_logout_redirect_uri],
      });
      build();
    },
    addUser(person) {
      const login = `user-${crypto.randomUUID()}`;
      users.set(login, person);
      return login;
    },
    addPerson(person) {
      const subject = `person-${crypto.randomUUID()}`;
      people.set(subject, person);
      clients.push({
        client_id: subject,
        client_secret: 'secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      });
      build(); // static clients are read at construction
      return subject;
    },
    async token(subject, resource = API_AUDIENCE) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${subject}:secret`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'api' }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async rotateKeys({ keepOld } = { keepOld: true }) {
      keys = keepOld ? [newSigningKey(), ...keys] : [newSigningKey()];
      build();
    },
    signingKey: () => keys[0],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
