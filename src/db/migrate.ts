/**
 * Applies the migrations in ./migrations, in name order, once per database. Two processes starting
 * together serialise on an advisory lock, so the second finds nothing left to do.
 */
import type { Knex } from 'knex';
import * as accounts from './migrations/20261123000100_accounts';
import * as flows from './migrations/20261123000200_flows';
import * as executions from './migrations/20261123000300_executions';
import * as listeners from './migrations/20261123000400_listeners';
import * as collaboration from './migrations/20261123000500_collaboration';
import * as taskEngineFailures from './migrations/20261201000100_task_engine_failures';
import * as loginFailuresLastFailed from './migrations/20261201000200_login_failures_last_failed';
import * as executionsFinishedNotify from './migrations/20261202000100_executions_finished_notify';
import * as fairClaims from './migrations/20261202000200_fair_claims';
import * as listenersOf from './migrations/20261202000300_listeners_of';
import * as executionProgress from './migrations/20261202010000_execution_progress';
import * as schedules from './migrations/20261202000400_schedules';
import * as webhooks from './migrations/20261202000500_webhooks';
import * as accountsExternalId from './migrations/20261202020000_accounts_external_id';
import * as flowRequests from './migrations/20261202020000_flow_requests';
import * as finalExecutionsInvalidate from './migrations/20261202030000_final_executions_invalidate';
import * as stagesAndAttribution from './migrations/20261203020000_stages_and_attribution';
import * as executionRecovery from './migrations/20261203080000_execution_recovery';
import * as listenersOfExecutions from './migrations/20261204000000_listeners_of_executions';
import * as foreachItemRetry from './migrations/20261204030000_foreach_item_retry';
import * as oidcSignIns from './migrations/20261203050000_oidc_sign_ins';
import * as files from './migrations/20261203010000_files';
import * as connections from './migrations/20261203030000_connections';
import * as callbackRate from './migrations/20261203030100_callback_rate';
import * as organizations from './migrations/20261203040000_organizations';
import * as concurrencyLimits from './migrations/20261203070000_concurrency_limits';
import * as parallelForeach from './migrations/20261203060000_parallel_foreach';
import * as organizationInvitations from './migrations/20261204020000_organization_invitations';
import * as organizationSecrets from './migrations/20261204010000_organization_secrets';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  '20261123000100_accounts': accounts,
  '20261123000200_flows': flows,
  '20261123000300_executions': executions,
  '20261123000400_listeners': listeners,
  '20261123000500_collaboration': collaboration,
  '20261201000100_task_engine_failures': taskEngineFailures,
  '20261201000200_login_failures_last_failed': loginFailuresLastFailed,
  '20261202000100_executions_finished_notify': executionsFinishedNotify,
  '20261202000200_fair_claims': fairClaims,
  '20261202000300_listeners_of': listenersOf,
  '20261202010000_execution_progress': executionProgress,
  '20261202000400_schedules': schedules,
  '20261202000500_webhooks': webhooks,
  '20261202020000_accounts_external_id': accountsExternalId,
  '20261202020000_flow_requests': flowRequests,
  '20261202030000_final_executions_invalidate': finalExecutionsInvalidate,
  '20261203020000_stages_and_attribution': stagesAndAttribution,
  '20261203080000_execution_recovery': executionRecovery,
  '20261203050000_oidc_sign_ins': oidcSignIns,
  '20261203010000_files': files,
  '20261203030000_connections': connections,
  '20261203030100_callback_rate': callbackRate,
  '20261203040000_organizations': organizations,
  '20261203070000_concurrency_limits': concurrencyLimits,
  '20261203060000_parallel_foreach': parallelForeach,
  '20261204000000_listeners_of_executions': listenersOfExecutions,
  '20261204020000_organization_invitations': organizationInvitations,
  '20261204010000_organization_secrets': organizationSecrets,
  '20261204030000_foreach_item_retry': foreachItemRetry,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name],
};

const MIGRATION_LOCK = 7_361_002_911; // any constant; names this application's lock

export async function migrateToLatest(knex: Knex): Promise<void> {
  // One connection holds the lock for the length of its transaction while knex migrates on another.
  await knex.transaction(async (tx) => {
    await tx.raw('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
    await knex.migrate.latest({ migrationSource: source });
  });
}
