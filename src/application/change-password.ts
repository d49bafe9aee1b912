import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, type HandleResult } from '../write-model/core/command-handler.js';
import { userAggregate } from '../write-model/user/decider.js';
import type { UserEvent } from '../write-model/user/events.js';
import type { UserState } from '../write-model/user/state.js';
import { loadExistingUser } from './load-user.js';
import type { PasswordHasher } from './ports/password-hasher.js';

/** Why a signed-in password change was refused (the current password proves it is the user, not a stolen session). */
export type PasswordChangeRefusalReason = 'password_invalid' | 'password_unchanged';

export class PasswordChangeRefusal extends Error {
  override readonly name = 'PasswordChangeRefusal';
  constructor(readonly reason: PasswordChangeRefusalReason) {
    super(reason === 'password_invalid' ? 'the current password is wrong' : 'the new password is the current one');
  }
}

export interface PasswordChange {
  currentPassword: string;
  newPassword: string;
  /** the session the request came from: it stays signed in, every other one ends */
  keepSessionId?: string | undefined;
}

/**
 * A signed-in user sets a new password, proving the current one. The
 * decision is made on the state the current password was checked against:
 * a change or reset that lands in between is a conflict (the new answer
 * must be proved again), never a change decided on a password nobody
 * checked. expectedRevision: the caller's If-Match, checked before the
 * password (no guess is spent on a stale request).
 */
export async function changePassword(
  deps: { store: EventStore; passwordHasher: PasswordHasher },
  userId: string,
  change: PasswordChange,
  context: CommandContext,
  options: { expectedRevision?: bigint | undefined; now?: Date } = {},
): Promise<HandleResult<UserState, UserEvent>> {
  const loaded = await loadExistingUser(deps.store, userId, options.expectedRevision);
  const account = loaded.state.account!;
  if (!(await deps.passwordHasher.verify(account.passwordHash, change.currentPassword))) throw new PasswordChangeRefusal('password_invalid');
  // the current password was just proved: comparing the texts is enough (salted hashes never compare equal)
  if (change.newPassword === change.currentPassword) throw new PasswordChangeRefusal('password_unchanged');
  const newPasswordHash = await deps.passwordHasher.hash(change.newPassword);
  return handle(
    deps.store,
    userAggregate,
    userId,
    {
      type: 'ChangePassword',
      userId,
      newPasswordHash,
      ...(change.keepSessionId !== undefined ? { keepSessionId: change.keepSessionId } : {}),
      now: (options.now ?? new Date()).toISOString(),
    },
    { context, loaded, expectedRevision: loaded.revision },
  );
}
