/** The services of one process, wired once. */
import { InvalidationBus } from '../db/invalidation';
import type { Db } from '../db/knex';
import type { Config } from '../config';
import type { Logger } from '../log';
import { AccountsService } from './accounts.service';
import { ApiKeysService } from './api-keys.service';
import { OrganizationsService } from './organizations.service';
import { InvitationsService } from './invitations.service';
import { AuthService } from './auth.service';
import { ApprovalsService } from './approvals.service';
import { CompletionsService } from './completions.service';
import { GraphService } from './graph.service';
import { HealthService } from './health.service';
import { InputsService } from './inputs.service';
import { SharesService } from './shares.service';
import { ValuesService } from './values.service';
import { ExecutionsService } from './executions.service';
import { FlowsService } from './flows.service';
import { FlowRequestsService } from './flow-requests.service';
import { FilesService } from './files.service';
import { InboundEventsService } from './events-inbound.service';
import { CallbacksService } from './callbacks.service';
import { NavigationService } from './navigation.service';
import { ListenersService } from './listeners.service';
import { PackagesService } from './packages.service';
import { RecoveryService } from './recovery.service';
import type { Keys } from '../security/keys';
import { SecretBox } from '../security/secret-box';
import { SecretsService } from './secrets.service';
import { SignInService } from './sign-in.service';
import { ConnectionsService } from './connections.service';
import { UsersService } from './users.service';
import { ExecutionStarter } from '../engine/starter';
import { SwitchableClock } from './clock';
import { ScheduleFiring } from './schedule-firing';
import { SchedulesService } from './schedules.service';
import { WebhooksService } from './webhooks.service';

export interface Services {
  db: Db;
  config: Config;
  log: Logger;
  /** Fed by the engine's LISTEN connection (`startEngine`); the caches of the services below hang on it. */
  invalidations: InvalidationBus;
  health: HealthService;
  auth: AuthService;
  accounts: AccountsService;
  /** The caller's own account: users/me, and provisioning for identities of an OpenID Connect issuer. */
  users: UsersService;
  /** Browser sign-in at an identity provider (authorization code + PKCE). */
  signIn: SignInService;
  apiKeys: ApiKeysService;
  organizations: OrganizationsService;
  /** Invitations into a team's organization, and the invitee's answers. */
  invitations: InvitationsService;
  secrets: SecretsService;
  /** Named credentials for http.request; the engine resolves them by name. */
  connections: ConnectionsService;
  flows: FlowsService;
  flowRequests: FlowRequestsService;
  /** Uploaded and saved files, stored in PostgreSQL (002). */
  files: FilesService;
  inboundEvents: InboundEventsService;
  callbacks: CallbacksService;
  navigation: NavigationService;
  executions: ExecutionsService;
  /** Run-and-wait and long polls; the realtime layer provides its wake-ups. */
  completions: CompletionsService;
  listeners: ListenersService;
  approvals: ApprovalsService;
  inputs: InputsService;
  values: ValuesService;
  graph: GraphService;
  shares: SharesService;
  packages: PackagesService;
  /** Retrying and rerunning failed or cancelled executions. */
  recovery: RecoveryService;
  /** The engine's start path; the engine hands its local worker to it. */
  starter: ExecutionStarter;
  /** The time the schedules go by (tests point it at another day). */
  clock: SwitchableClock;
  schedules: SchedulesService;
  /** What happens at a schedule's due times; the firing loop (`scheduler.ts`) calls it. */
  scheduleFiring: ScheduleFiring;
  webhooks: WebhooksService;
}

export function createServices(db: Db, config: Config, log: Logger, keys: Keys): Services {
  const invalidations = new InvalidationBus();
  const flows = new FlowsService(db, invalidations);
  const box = new SecretBox(keys.encryptionKey);
  const connections = new ConnectionsService(db, box, invalidations);
  const secrets = new SecretsService(db, box, invalidations, connections);
  const starter = new ExecutionStarter(db, config.leaseMs, config.inlineStarts);
  const flowRequests = new FlowRequestsService(db, flows);
  const executions = new ExecutionsService(db, flows, secrets, starter, flowRequests, invalidations);
  const auth = new AuthService(db, config, keys.jwtSecret, invalidations, log);
  const clock = new SwitchableClock();
  const scheduleFiring = new ScheduleFiring(executions);
  const completions = new CompletionsService(executions);
  const users = new UsersService(db, auth);
  return {
    db,
    config,
    log,
    invalidations,
    health: new HealthService(db),
    auth,
    accounts: new AccountsService(db, invalidations),
    organizations: new OrganizationsService(db, invalidations),
    invitations: new InvitationsService(db, invalidations),
    users,
    signIn: new SignInService(db, config, auth, users, invalidations),
    apiKeys: new ApiKeysService(db, invalidations),
    secrets,
    connections,
    flows,
    flowRequests,
    files: new FilesService(db, config.maxFileBytes, executions),
    inboundEvents: new InboundEventsService(db),
    callbacks: new CallbacksService(db, { perToken: config.callbackRatePerToken, perIp: config.callbackRatePerIp }),
    navigation: new NavigationService(db, executions),
    executions,
    completions,
    listeners: new ListenersService(db, executions, flows, box),
    approvals: new ApprovalsService(db, executions),
    inputs: new InputsService(db, executions),
    values: new ValuesService(db, executions),
    graph: new GraphService(db, executions),
    shares: new SharesService(db, executions),
    packages: new PackagesService(db, executions),
    recovery: new RecoveryService(db, executions, flows),
    starter,
    clock,
    schedules: new SchedulesService(db, flows, scheduleFiring, clock),
    scheduleFiring,
    webhooks: new WebhooksService(db, flows, executions, completions, box, config.maxWaitSeconds),
  };
}
