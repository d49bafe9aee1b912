import { WrongExpectedVersionError } from '../event-store/errors.js';
import type { EventStore } from '../event-store/port.js';
import { load, type Loaded } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { userAggregate } from '../write-model/user/decider.js';
import type { UserState } from '../write-model/user/state.js';

/**
 * A user who has an account (else NOT_FOUND), at the revision the caller's
 * If-Match names when one is given (else WrongExpectedVersionError: 412).
 * Checked before anything is counted or sent (a code, a password try).
 */
export async function loadExistingUser(store: EventStore, userId: string, expectedRevision?: bigint): Promise<Loaded<UserState>> {
  const loaded = await load(store, userAggregate, userId);
  if (loaded.state.account === null) throw new DomainError('NOT_FOUND', 'user not found', { userId });
  if (expectedRevision !== undefined && expectedRevision !== loaded.revision) {
    throw new WrongExpectedVersionError(userAggregate.streamName(userId), expectedRevision, loaded.revision);
  }
  return loaded;
}
