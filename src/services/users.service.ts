/**
 * The caller's own account: who they are (`GET /users/me`) and, for an identity of a trusted
 * OpenID Connect issuer, its account created on first sight (`POST /users/me`). An account is
 * created only for the verified identity of the token presented, with the token's email: nobody
 * provisions anyone else, nor takes over a local account by its email.
 */
import type { Db } from '../db/knex';
import { newId } from '../db/ids';
import type { AccountRow } from '../db/tables';
import { ConflictError, ForbiddenError, UnauthorizedError } from '../errors';
import { findAccountById, findExternalAccount, insertAccount } from '../repositories/accounts.repository';
import type { ExternalIdentity } from '../security/oidc';
import type { Actor } from './actor';
import type { AuthService, Caller } from './auth.service';

const UNIQUE_VIOLATION = '23505';
const EXTERNAL_IDENTITY_CONSTRAINT = 'accounts_external_identity';

export interface ProvisionRequest {
  email?: string;
  name?: string;
}

/** An account as its caller sees it: the row and how the caller is authenticated now. */
export interface CurrentUser {
  account: AccountRow;
  actor: { role: Actor['role']; via: Exclude<Actor['via'], 'trigger'> };
}

export class UsersService {
  constructor(
    private readonly db: Db,
    private readonly auth: AuthService,
  ) {}

  async me(actor: Actor): Promise<CurrentUser> {
    // A trigger acts for its flow's account inside the engine; it never calls the API.
    if (actor.via === 'trigger') throw new UnauthorizedError('A trigger has no current user');
    const account = await findAccountById(this.db, actor.accountId);
    // Deleted between authentication and now: the credentials' account is gone.
    if (!account) throw new UnauthorizedError('The account of these credentials no longer exists');
    return { account, actor: { role: actor.role, via: actor.via } };
  }

  /** The caller's account, `created` when this call made it. */
  async provision(caller: Caller, request: ProvisionRequest): Promise<CurrentUser & { created: boolean }> {
    if (caller.actor) {
      const current = await this.me(caller.actor);
      this.checkEmail(request.email, current.account.email);
      return { ...current, created: false };
    }
    const identity = caller.identity;
    const email = this.emailOf(identity);
    this.checkEmail(request.email, email);
    const role = this.auth.externalRole(identity) ?? 'user';
    const account = await this.insertOrFind(identity, {
      id: newId('acct'),
      name: request.name ?? identity.name ?? email,
      email,
      password_hash: null,
      role,
      external_issuer: identity.issuer,
      external_id: identity.subject,
    });
    return { account: account.row, actor: { role, via: 'oidc' }, created: account.created };
  }

  private emailOf(identity: ExternalIdentity): string {
    const claim = this.auth.externalEmailClaim;
    if (identity.email === undefined) {
      throw new ForbiddenError(`The token carries no email (claim "${claim}"); the identity provider must include it`, {
        reason: 'token_without_email',
        claim,
      });
    }
    if (!identity.emailVerified) {
      throw new ForbiddenError('The token says its email is not verified', { reason: 'email_not_verified' });
    }
    return identity.email;
  }

  private checkEmail(requested: string | undefined, own: string): void {
    if (requested !== undefined && requested.toLowerCase() !== own.toLowerCase()) {
      throw new ForbiddenError("An account can be created only with the caller's own email (the token's)", {
        field: 'email',
        reason: 'email_mismatch',
      });
    }
  }

  /** Two first requests of one identity may race: the second finds the first's row. */
  private async insertOrFind(
    identity: ExternalIdentity,
    row: Parameters<typeof insertAccount>[1],
  ): Promise<{ row: AccountRow; created: boolean }> {
    const existing = await findExternalAccount(this.db, identity.issuer, identity.subject);
    if (existing) return { row: (await findAccountById(this.db, existing.id))!, created: false };
    try {
      return { row: await insertAccount(this.db, row), created: true };
    } catch (err) {
      const e = err as { code?: string; constraint?: string };
      if (e.code !== UNIQUE_VIOLATION) throw err;
      if (e.constraint === EXTERNAL_IDENTITY_CONSTRAINT) {
        const raced = await findExternalAccount(this.db, identity.issuer, identity.subject);
        if (raced) return { row: (await findAccountById(this.db, raced.id))!, created: false };
      }
      throw new ConflictError(
        'Another account already has this email; an admin must remove or change it before this identity can have an account',
        { field: 'email', reason: 'email_taken' },
      );
    }
  }
}
