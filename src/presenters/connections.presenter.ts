/** Connections as the spec shows them: the settings of their type, the secret parts as `***`. */
import type { components } from '../../generated/types/api';
import type { ConnectionRow } from '../db/tables';
import { iso } from './dates';

/** As secrets are masked everywhere (security/masking.ts). */
const MASK = '***';

type Connection = components['schemas']['Connection'];

export function toConnection(r: ConnectionRow): Connection {
  const s = r.settings;
  const out: Connection = {
    organization_id: r.organization_id,
    id: r.id,
    name: r.name,
    type: r.type,
    description: r.description,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
  switch (r.type) {
    case 'api_key':
      out.api_key = { location: s.location as 'header' | 'query', name: String(s.name), value: MASK };
      break;
    case 'basic':
      out.basic = { username: String(s.username), password: MASK };
      break;
    case 'bearer':
      out.bearer = { token: MASK };
      break;
    case 'oauth2_client_credentials':
      out.oauth2_client_credentials = {
        token_url: String(s.token_url),
        client_id: String(s.client_id),
        client_secret: MASK,
        scope: (s.scope as string | null | undefined) ?? null,
        audience: (s.audience as string | null | undefined) ?? null,
        resource: (s.resource as string | null | undefined) ?? null,
        client_auth: (s.client_auth as 'basic' | 'body' | undefined) ?? 'basic',
      };
      break;
  }
  return out;
}
