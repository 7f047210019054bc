/** The services of one process, wired once. */
import type { Knex } from 'knex';
import type { Config } from '../config';
import type { Logger } from '../log';
import { AccountsService } from './accounts.service';
import { ApiKeysService } from './api-keys.service';
import { AuthService } from './auth.service';
import { CollaborationService } from './collaboration.service';
import { ExecutionsService } from './executions.service';
import { FlowsService } from './flows.service';
import { ListenersService } from './listeners.service';
import { PackagesService } from './packages.service';
import type { Keys } from '../security/keys';
import { SecretBox } from '../security/secret-box';
import { SecretsService } from './secrets.service';

export interface Services {
  db: Knex;
  config: Config;
  log: Logger;
  auth: AuthService;
  accounts: AccountsService;
  apiKeys: ApiKeysService;
  secrets: SecretsService;
  flows: FlowsService;
  executions: ExecutionsService;
  listeners: ListenersService;
  collaboration: CollaborationService;
  packages: PackagesService;
}

export function createServices(db: Knex, config: Config, log: Logger, keys: Keys): Services {
  const flows = new FlowsService(db);
  const box = new SecretBox(keys.encryptionKey);
  const executions = new ExecutionsService(db, flows);
  return {
    db,
    config,
    log,
    auth: new AuthService(db, config, keys.jwtSecret),
    accounts: new AccountsService(db),
    apiKeys: new ApiKeysService(db),
    secrets: new SecretsService(db, box),
    flows,
    executions,
    listeners: new ListenersService(db, executions, flows, box),
    collaboration: new CollaborationService(db, executions),
    packages: new PackagesService(db, executions),
  };
}
