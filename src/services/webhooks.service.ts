/**
 * Inbound webhook triggers: a flow's secret URL (`/hooks/<token>`) that starts it when another
 * system calls. The token is shown once and stored as its SHA-256 hash; the verification secret is
 * sealed. Every call is in the trigger's delivery log, whatever became of it. The start goes
 * through `ExecutionsService.start`, in a transaction that also claims the delivery id, so a
 * retried delivery answers its first execution and starts nothing.
 */
import crypto from 'node:crypto';
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import { FINAL_STATUSES, type ExecutionRow, type WebhookRow, type WebhookVerification } from '../db/tables';
import { inTransaction } from '../db/transaction';
import {
  AppError,
  ForbiddenError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors';
import {
  claimDeliveryId,
  deleteWebhookRow,
  findWebhook,
  findWebhookByTokenHash,
  insertDelivery,
  insertWebhook,
  listDeliveryRows,
  listWebhookRows,
  recentDeliveries,
  updateWebhookRow,
} from '../repositories/webhooks.repository';
import type { SecretBox } from '../security/secret-box';
import type { Actor } from './actor';
import type { OrganizationAction } from './ownership';
import type { CompletionsService } from './completions.service';
import type { ExecutionsService } from './executions.service';
import type { FlowsService } from './flows.service';
import { signatureHeaders, verifySignature } from './webhook-signatures';

export interface WebhookFields {
  verification?: WebhookVerification;
  secret?: string;
  respond?: WebhookRow['respond'];
  timeout_seconds?: number;
  dedup_header?: string | null;
  rate_limit_per_minute?: number | null;
  enabled?: boolean;
}

/** A row with what is shown only once: the URL's token and the shared secret. */
export type RevealedWebhook = WebhookRow & { token?: string; plainSecret?: string };

/** One call of a trigger's URL, as the HTTP layer read it. */
export interface WebhookCall {
  method: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The wait of `on_completion` ends early when the caller goes away. */
  signal: AbortSignal;
}

export interface WebhookAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Headers that carry credentials: never passed to the flow. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];

export const hashToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');
const sealContext = (id: string) => `webhook:${id}`;

function headerOf(headers: WebhookCall['headers']): (name: string) => string | undefined {
  return (name) => {
    const v = headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
}

/** The body as the flow sees it: JSON parsed, a form as an object, text as a string. */
function parseBody(call: WebhookCall): unknown {
  if (call.body.length === 0) return null;
  const type = (headerOf(call.headers)('content-type') ?? '').split(';')[0].trim().toLowerCase();
  const text = call.body.toString('utf8');
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(text);
    } catch {
      throw new InvalidRequestError('The body is not valid JSON', { field: 'body', reason: 'invalid JSON' });
    }
  }
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  if (type.startsWith('text/')) return text;
  throw new UnsupportedMediaTypeError('The body must be JSON, a form (application/x-www-form-urlencoded) or text', {
    field: 'content-type',
    reason: `${type || 'no content type'} is not taken`,
  });
}

/** What a finished execution answers to an `on_completion` caller. */
function finishedAnswer(ex: ExecutionRow): WebhookAnswer {
  if (ex.status !== 'completed')
    return {
      status: 502,
      body: {
        error: {
          code: 'execution_failed',
          message: `The execution ${ex.status === 'cancelled' ? 'was cancelled' : 'failed'}`,
          details: { execution_id: ex.id, status: ex.status, error: ex.error },
        },
      },
    };
  const result = ex.result as { response?: { status?: unknown; body?: unknown } } | null;
  const response = result && typeof result === 'object' && !Array.isArray(result) ? result.response : undefined;
  if (response && typeof response === 'object') {
    const status =
      Number.isInteger(response.status) && (response.status as number) >= 200 && (response.status as number) <= 299
        ? (response.status as number)
        : 200;
    return { status, body: response.body ?? null };
  }
  return { status: 200, body: ex.result ?? null };
}

export class WebhooksService {
  constructor(
    private readonly db: Db,
    private readonly flows: FlowsService,
    private readonly executions: ExecutionsService,
    private readonly completions: CompletionsService,
    private readonly box: SecretBox,
    private readonly maxWaitSeconds: number,
  ) {}

  /** The flow's webhook; with `action` beyond read, one the actor's role may change (403 otherwise). */
  private async visible(
    actor: Actor,
    flowId: string,
    id: string,
    action: OrganizationAction = 'read',
  ): Promise<WebhookRow> {
    await this.flows.permitted(actor, flowId, action);
    const row = await findWebhook(this.db, id);
    if (!row || row.flow_id !== flowId) throw new NotFoundError('Webhook not found');
    return row;
  }

  private static newToken() {
    const token = `whk_${crypto.randomBytes(24).toString('base64url')}`;
    return { token, token_hash: hashToken(token) };
  }

  async create(actor: Actor, flowId: string, f: WebhookFields): Promise<RevealedWebhook> {
    const flow = await this.flows.permitted(actor, flowId, 'edit');
    const verification = f.verification ?? { scheme: 'none' };
    if (verification.scheme === 'generic' && !verification.header)
      throw new ValidationError('A generic verification names its header', {
        field: 'verification.header',
        reason: 'required for scheme generic',
      });
    const id = newId('hook');
    const secret =
      verification.scheme === 'none' ? null : (f.secret ?? `whsec_${crypto.randomBytes(24).toString('base64url')}`);
    const { token, token_hash } = WebhooksService.newToken();
    const row = await insertWebhook(this.db, {
      id,
      account_id: flow.account_id,
      organization_id: flow.organization_id,
      flow_id: flow.id,
      token_hash,
      enabled: f.enabled ?? true,
      respond: f.respond ?? 'immediately',
      timeout_seconds: f.timeout_seconds ?? 10,
      verification,
      secret: secret === null ? null : this.box.seal(secret, sealContext(id)),
      dedup_header: f.dedup_header ?? null,
      rate_limit_per_minute: f.rate_limit_per_minute ?? null,
      created_by: actor.accountId,
    });
    return { ...row, token, plainSecret: secret ?? undefined };
  }

  async list(actor: Actor, flowId: string): Promise<WebhookRow[]> {
    await this.flows.get(actor, flowId);
    return listWebhookRows(this.db, flowId);
  }

  get(actor: Actor, flowId: string, id: string): Promise<WebhookRow> {
    return this.visible(actor, flowId, id);
  }

  async update(actor: Actor, flowId: string, id: string, f: WebhookFields): Promise<WebhookRow> {
    await this.visible(actor, flowId, id, 'edit');
    return updateWebhookRow(this.db, id, f as Partial<WebhookRow>);
  }

  async delete(actor: Actor, flowId: string, id: string): Promise<void> {
    await this.visible(actor, flowId, id, 'edit');
    await deleteWebhookRow(this.db, id);
  }

  async rotate(actor: Actor, flowId: string, id: string): Promise<RevealedWebhook> {
    await this.visible(actor, flowId, id, 'edit');
    const { token, token_hash } = WebhooksService.newToken();
    return { ...(await updateWebhookRow(this.db, id, { token_hash })), token };
  }

  async deliveries(actor: Actor, flowId: string, id: string, limit: number, offset: number) {
    await this.visible(actor, flowId, id);
    return listDeliveryRows(this.db, id, limit, offset);
  }

  /**
   * Answers a call of `/hooks/<token>`: 404 for an unknown token, else the call is logged with
   * what it was answered, whether it was refused (disabled 403, rate limit 429, signature 401,
   * body 400/413/415, input 422), replayed, or started an execution.
   */
  async receive(token: string, call: WebhookCall | { tooLarge: true }): Promise<WebhookAnswer> {
    const hook = await findWebhookByTokenHash(this.db, hashToken(token));
    if (!hook) throw new NotFoundError('No webhook trigger at this URL');
    const began = Date.now();
    const log = {
      webhook_id: hook.id,
      verification: (hook.verification.scheme === 'none' ? 'none' : 'failed') as 'passed' | 'failed' | 'none',
      dedup_hit: false,
      delivery_id: null as string | null,
      execution_id: null as string | null,
    };
    try {
      const answer = await this.answer(hook, call, log);
      await insertDelivery(this.db, { ...log, status: answer.status, latency_ms: Date.now() - began, error: null });
      return answer;
    } catch (err) {
      if (err instanceof AppError)
        await insertDelivery(this.db, {
          ...log,
          status: err.status,
          latency_ms: Date.now() - began,
          error: err.message,
        });
      throw err;
    }
  }

  private async answer(
    hook: WebhookRow,
    call: WebhookCall | { tooLarge: true },
    log: {
      verification: 'passed' | 'failed' | 'none';
      dedup_hit: boolean;
      delivery_id: string | null;
      execution_id: string | null;
    },
  ): Promise<WebhookAnswer> {
    if (!hook.enabled) throw new ForbiddenError('This webhook trigger is disabled');
    if (hook.rate_limit_per_minute !== null) {
      const recent = await recentDeliveries(this.db, hook.id);
      if (recent.count >= hook.rate_limit_per_minute) {
        const waitMs = recent.oldest ? recent.oldest.getTime() + 60_000 - Date.now() : 60_000;
        throw new RateLimitedError(
          `This webhook trigger takes ${hook.rate_limit_per_minute} calls a minute`,
          Math.max(1, Math.ceil(waitMs / 1000)),
        );
      }
    }
    if ('tooLarge' in call) throw new PayloadTooLargeError('The request body is larger than the 1 MiB limit');
    const header = headerOf(call.headers);
    const secret = hook.secret ? this.box.open(hook.secret, sealContext(hook.id)) : null;
    const verdict = verifySignature(hook.verification, secret, call.body, header, Math.floor(Date.now() / 1000));
    if (!verdict.ok) throw new UnauthorizedError(`The webhook signature was refused: ${verdict.reason}`);
    if (hook.verification.scheme !== 'none') log.verification = 'passed';
    const hidden = new Set([...CREDENTIAL_HEADERS, ...signatureHeaders(hook.verification)]);
    const headers = Object.fromEntries(
      Object.entries(call.headers).filter(([k, v]) => v !== undefined && !hidden.has(k.toLowerCase())),
    );
    const input = { method: call.method, path: '/hooks/<token>', query: call.query, headers, body: parseBody(call) };
    const deliveryId = hook.dedup_header
      ? header(hook.dedup_header)
      : (header('idempotency-key') ?? header('x-github-delivery'));
    log.delivery_id = deliveryId ?? null;
    const { execution, replayed } = await this.start(hook, input, deliveryId);
    log.execution_id = execution.id;
    log.dedup_hit = replayed;
    const accepted = (ex: ExecutionRow): WebhookAnswer => ({
      status: 202,
      body: { execution_id: ex.id, status: ex.status },
      headers: { Location: `/api/v1/executions/${ex.id}` },
    });
    if (hook.respond === 'immediately') return accepted(execution);
    const seconds = Math.min(hook.timeout_seconds, this.maxWaitSeconds);
    const { execution: after } = await this.completions.getWhenFinished(actorOf(hook), execution.id, {
      seconds,
      signal: call.signal,
    });
    if (!FINAL_STATUSES.includes(after.status))
      return { ...accepted(after), headers: { ...accepted(after).headers, 'Retry-After': '1' } };
    return finishedAnswer(after);
  }

  /** Starts the execution, or finds the one a delivery id already started (within 24 hours). */
  private async start(
    hook: WebhookRow,
    input: Record<string, unknown>,
    deliveryId: string | undefined,
  ): Promise<{ execution: ExecutionRow; replayed: boolean }> {
    const trigger = { type: 'webhook' as const, id: hook.id, scheduled_at: null };
    try {
      return await inTransaction(this.db, async (tx) => {
        const { execution } = await this.executions.start(actorOf(hook), { flowId: hook.flow_id, input, trigger }, tx);
        if (deliveryId !== undefined) {
          const claim = await claimDeliveryId(tx, {
            webhook_id: hook.id,
            delivery_id: deliveryId,
            execution_id: execution.id,
          });
          // Rolls the new execution back: the delivery was seen, its execution answers.
          if (!claim.claimed) throw new SeenDelivery(claim.execution_id);
        }
        return { execution, replayed: false };
      });
    } catch (err) {
      if (!(err instanceof SeenDelivery)) throw err;
      return { execution: await this.executions.get(actorOf(hook), err.executionId), replayed: true };
    }
  }
}

class SeenDelivery extends Error {
  constructor(readonly executionId: string) {
    super('delivery seen before');
  }
}

/** A webhook starts its flow as the flow's account, with a runner's rights in its organization. */
function actorOf(hook: WebhookRow): Actor {
  return {
    accountId: hook.account_id,
    role: 'user',
    via: 'trigger',
    memberships: new Map([[hook.organization_id, 'runner']]),
  };
}
