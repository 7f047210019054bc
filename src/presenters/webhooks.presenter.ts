/** Webhook triggers and their deliveries as the spec shows them. */
import type { components } from '../../generated/types/api';
import type { WebhookDeliveryRow, WebhookRow } from '../db/tables';
import { iso, isoOrNull } from './dates';

type Schemas = components['schemas'];

export function toWebhook(r: WebhookRow, shown: { token?: string; secret?: string } = {}): Schemas['Webhook'] {
  return {
    id: r.id,
    organization_id: r.organization_id,
    flow_id: r.flow_id,
    enabled: r.enabled,
    respond: r.respond,
    timeout_seconds: r.timeout_seconds,
    verification: r.verification,
    dedup_header: r.dedup_header,
    rate_limit_per_minute: r.rate_limit_per_minute,
    created_at: iso(r.created_at),
    last_delivery_at: isoOrNull(r.last_delivery_at),
    ...(shown.token ? { url: `/hooks/${shown.token}`, token: shown.token } : {}),
    ...(shown.secret ? { secret: shown.secret } : {}),
  };
}

export function toWebhookDelivery(r: WebhookDeliveryRow): Schemas['WebhookDelivery'] {
  return {
    id: String(r.id),
    received_at: iso(r.received_at),
    verification: r.verification,
    dedup_hit: r.dedup_hit,
    delivery_id: r.delivery_id,
    execution_id: r.execution_id,
    status: r.status,
    latency_ms: r.latency_ms,
    error: r.error,
  };
}
