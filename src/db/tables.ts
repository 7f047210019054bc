/** Row types of the tables, as Knex returns them. */
export interface AccountRow {
  id: string;
  name: string;
  email: string;
  /** Null for an account of an OpenID Connect identity: it signs in at its identity provider. */
  password_hash: string | null;
  role: 'admin' | 'user';
  /** The identity provider (`iss`) and subject (`sub`) of an external account; both null for a local one. */
  external_issuer: string | null;
  external_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ApiKeyRow {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  /** The organization the key acts in and its role there; both null for a key of all its creator's organizations. */
  organization_id: string | null;
  organization_role: OrganizationRole | null;
}

/** Failed logins per key: `pair:<email> <address>` or `ip:<address>`. */
export interface LoginFailureRow {
  key: string;
  failures: number;
  last_failed_at: Date;
  locked_until: Date | null;
}

export interface SecretRow {
  /** The organization it belongs to; `account_id` created it (and its ciphertext is sealed with that id). */
  organization_id: string;
  account_id: string;
  key: string;
  ciphertext: Buffer;
  created_at: Date;
  updated_at: Date;
}

export type ConnectionType = 'api_key' | 'basic' | 'bearer' | 'oauth2_client_credentials';

/** A named credential; `settings` is what may be shown, `ciphertext` the sealed secret parts (JSON). */
export interface ConnectionRow {
  id: string;
  account_id: string;
  organization_id: string;
  name: string;
  type: ConnectionType;
  description: string | null;
  settings: Record<string, unknown>;
  ciphertext: Buffer;
  created_at: Date;
  updated_at: Date;
}

export interface FlowRow {
  id: string;
  account_id: string;
  /** The organization it belongs to (account_id: who created it). */
  organization_id: string;
  name: string;
  description: string;
  tags: string[];
  current_version: number;
  /** The version promoted to the live stage; null until one is (issue 15). */
  live_version: number | null;
  created_by: string | null;
  updated_by: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** The emails of who created and last changed a flow, joined by the flow reads. */
export interface FlowAttribution {
  created_by_email?: string | null;
  updated_by_email?: string | null;
}

export interface FlowVersionRow {
  flow_id: string;
  number: number;
  version_label: string | null;
  hash: string;
  definition: string;
  document: unknown;
  created_by: string | null;
  created_at: Date;
}

/**
 * A flow (not deleted) with its current version's definition and label, and the parsed document
 * of its live version when one is set (so a start on the live stage reads no more than a start
 * on the latest).
 */
export type FlowWithDefinition = FlowRow &
  Pick<FlowVersionRow, 'definition' | 'version_label' | 'hash' | 'document'> &
  FlowAttribution & { live_document?: unknown };

export type ExecutionStatus = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export const FINAL_STATUSES: readonly ExecutionStatus[] = ['completed', 'failed', 'cancelled'];

export interface FlowRequestRow {
  id: string;
  account_id: string;
  /** The organization it belongs to (account_id: who created it). */
  organization_id: string;
  name: string | null;
  instructions: string;
  metadata: Record<string, unknown>;
  flow_id: string | null;
  created_by: string;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

/** What an execution keeps of its flow request; templates read it as `request`. */
export interface FlowRequestSnapshot {
  id: string;
  name: string | null;
  instructions: string;
  metadata: Record<string, unknown>;
}

/** A stored file's metadata; its bytes are rows of `file_chunks`. */
export interface FileRow {
  id: string;
  account_id: string;
  organization_id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  created_by: string | null;
  execution_id: string | null;
  created_at: Date;
}

/** What an execution keeps of each input file (templates read it as `files`). */
export interface FileSnapshot {
  id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
}

export interface ExecutionFileRow {
  execution_id: string;
  role: 'input' | 'output';
  position: number;
  file_id: string;
  node_id: string | null;
}

export interface ExecutionRow {
  id: string;
  account_id: string;
  /** The organization it belongs to (account_id: who created it). */
  organization_id: string;
  flow_id: string;
  flow_version: number;
  status: ExecutionStatus;
  client_id: string | null;
  input: Record<string, unknown>;
  result: unknown;
  error: string | null;
  current_node: string | null;
  node_outputs: Record<string, { output?: unknown; error?: string }>;
  state_values: Record<string, unknown>;
  step_count: number;
  event_seq: number;
  parent_execution_id: string | null;
  started_by: string | null;
  /** The flow request it carries out, as it was at the start (001). */
  flow_request: FlowRequestSnapshot | null;
  /** Its input files' metadata as it was at the start (002); null when it took none. */
  input_files: FileSnapshot[] | null;
  depth: number;
  approval_status: string | null;
  waiting_for: unknown;
  /** The schedule or webhook trigger that started it; null for a start through the API. */
  trigger: ExecutionTrigger | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  /** When the current node's latest attempt began. */
  node_started_at: Date | null;
  /** The end of the current wait (its deadline) or delay. */
  waiting_until: Date | null;
  /** The number of nodes of the pinned definition. */
  nodes_total: number;
  /** The stage it was started on: `live` (the flow's promoted version) or `draft` (issue 15). */
  stage: ExecutionStage;
  /** The run's name (002), when it was given one. */
  name: string | null;
  /** Joined by the reads that present it: the email of `started_by`, the flow's name. */
  started_by_email?: string | null;
  flow_name?: string | null;
  /** The execution this one reruns (`POST /executions/{id}/rerun`). */
  rerun_of: string | null;
  /** How many times it was retried (`POST /executions/{id}/retry`). */
  retries: number;
  /** The key of its flow's `concurrency` limit it was admitted or queued under; null without one. */
  concurrency_key?: string | null;
  /** On a foreach's child execution: which iteration of its parent it is. */
  iteration: ExecutionIteration | null;
  /** While (and after) a foreach runs: how far it is. */
  foreach_progress: ForeachProgress | null;
}

export interface ExecutionIteration {
  node_id: string;
  index: number;
  item: unknown;
  /** Runs the foreach's body (nodes of the parent's own definition), not a subflow. */
  body: boolean;
}

export interface ForeachProgress {
  node_id: string;
  done: number;
  total: number;
  failed: number;
  /** The first items that failed or were cancelled, with their iterations (absent until one did). */
  failed_items?: { index: number; execution_id: string | null; status: 'failed' | 'cancelled'; error: string | null }[];
}

export type ExecutionStage = 'draft' | 'live';

export interface TaskRow {
  id: string;
  execution_id: string;
  /** The execution's account, so claims can take accounts in turn. */
  account_id: string;
  node_id: string;
  attempt: number;
  run_at: Date;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  state: Record<string, unknown> | null;
  /** Times the engine failed on this task (a result it could not store, a crash in a node type). */
  engine_failures: number;
}

export interface StepRow {
  id: string;
  execution_id: string;
  node_id: string;
  node_type: string;
  attempt: number;
  status: 'running' | 'completed' | 'failed' | 'cancelled' | 'waiting';
  input: unknown;
  output: unknown;
  error: string | null;
  actor_id: string | null;
  started_at: Date | null;
  completed_at: Date | null;
}

export interface EventRow {
  id: string;
  execution_id: string;
  seq: number;
  type: string;
  level: string | null;
  payload: Record<string, unknown>;
  created_at: Date;
}

export interface ListenerRow {
  id: string;
  account_id: string;
  organization_id: string;
  execution_id: string | null;
  flow_id: string | null;
  url: string;
  events: string[] | null;
  secret: Buffer;
  last_delivery_status: string | null;
  last_delivery_at: Date | null;
  created_at: Date;
}

export interface DeliveryRow {
  id: string;
  listener_id: string;
  event_id: string;
  attempts: number;
  next_attempt_at: Date;
  locked_until: Date | null;
  delivered_at: Date | null;
  failed_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
}

export interface ExecutionTrigger {
  type: 'schedule' | 'webhook';
  id: string;
  scheduled_at: string | null;
  backfill?: boolean;
}

export type OverlapPolicy = 'skip' | 'buffer_one' | 'allow' | 'cancel_previous';

export interface ScheduleRow {
  id: string;
  account_id: string;
  organization_id: string;
  flow_id: string;
  flow_version: number | null;
  input: Record<string, unknown>;
  cron: string | null;
  interval_seconds: number | null;
  starts_at: Date | null;
  timezone: string;
  overlap_policy: OverlapPolicy;
  catchup_window_seconds: number;
  jitter_seconds: number;
  paused_at: Date | null;
  paused_by: string | null;
  pause_note: string | null;
  /** The next due time not yet in the ledger. */
  next_slot_at: Date;
  /** When that time fires: `next_slot_at` plus its jitter. */
  next_fire_at: Date;
  last_execution_id: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export type FireStatus = 'fired' | 'skipped' | 'backfilled' | 'buffered';
export type SkipReason = 'overlap' | 'paused' | 'outside_catchup_window' | 'start_failed';

/** One due time of a schedule: the ledger. */
export interface ScheduleFireRow {
  id: string;
  schedule_id: string;
  scheduled_at: Date;
  status: FireStatus;
  reason: SkipReason | null;
  error: string | null;
  execution_id: string | null;
  recorded_at: Date;
}

export interface WebhookVerification {
  scheme: 'none' | 'github' | 'stripe' | 'generic';
  header?: string;
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  encoding?: 'hex' | 'base64';
  prefix?: string;
  tolerance_seconds?: number;
}

export interface WebhookRow {
  id: string;
  account_id: string;
  organization_id: string;
  flow_id: string;
  token_hash: string;
  enabled: boolean;
  respond: 'immediately' | 'on_completion';
  timeout_seconds: number;
  verification: WebhookVerification;
  /** The verification's shared secret, sealed; null for scheme `none`. */
  secret: Buffer | null;
  dedup_header: string | null;
  rate_limit_per_minute: number | null;
  created_by: string | null;
  last_delivery_at: Date | null;
  created_at: Date;
}

export interface WebhookDeliveryRow {
  id: string;
  webhook_id: string;
  received_at: Date;
  verification: 'passed' | 'failed' | 'none';
  dedup_hit: boolean;
  delivery_id: string | null;
  execution_id: string | null;
  status: number;
  latency_ms: number;
  error: string | null;
}

/** A browser sign-in at an identity provider, under way (by its state's hash). */
export interface OidcSignInRow {
  state_hash: string;
  browser_hash: string;
  nonce: string;
  code_verifier: string;
  return_to: 'console' | 'docs';
  expires_at: Date;
}

export type OrganizationRole = 'owner' | 'editor' | 'runner' | 'viewer';

export interface OrganizationRow {
  id: string;
  name: string;
  /** The account whose personal organization this is; null for a team's. */
  personal_account_id: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface OrganizationMemberRow {
  organization_id: string;
  account_id: string;
  role: OrganizationRole;
  created_at: Date;
  updated_at: Date;
}

export type InvitationStatus = 'pending' | 'accepted' | 'declined' | 'revoked' | 'expired';

/** An invitation of an email into a team's organization, with the role it will have there. */
export interface OrganizationInvitationRow {
  id: string;
  organization_id: string;
  /** As the inviter wrote it; compared without case. */
  email: string;
  role: OrganizationRole;
  /** `expired` is written only when a new invitation replaces one past its `expires_at`. */
  status: InvitationStatus;
  invited_by: string;
  expires_at: Date;
  created_at: Date;
  responded_at: Date | null;
}
