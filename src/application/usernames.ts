import { z } from 'zod';
import { hashToken } from './opaque-tokens.js';
import { ConditionFailedError } from '../event-store/errors.js';
import type { AppendCondition, EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { userAggregate } from '../write-model/user/decider.js';
import { usernameReservationAggregate } from '../write-model/user/username-reservation.js';
import { normaliseUsername, USERNAME_PATTERN } from '../write-model/user/username.js';

/** A username as typed: normalised (NFKC, trimmed, lower case), then checked. */
export const usernameSchema = z
  .string()
  .max(120)
  .transform(normaliseUsername)
  .pipe(z.string().regex(USERNAME_PATTERN, 'must be 3 to 30 letters (with their combining marks), digits, "_", "." or "-"'));

/** The username belongs to someone else. */
export class UsernameTakenError extends Error {
  constructor(readonly username: string) {
    super(`the username ${username} is taken`);
    this.name = 'UsernameTakenError';
  }
}

/** The reservation stream's key: sha256 of the normalised name (the name itself is in no stream name). */
export function usernameHash(normalised: string): string {
  return hashToken(normalised);
}

/** Who holds the name, if anyone. */
export async function usernameHolder(store: EventStore, normalised: string): Promise<string | undefined> {
  return (await load(store, usernameReservationAggregate, usernameHash(normalised))).state.holder ?? undefined;
}

/**
 * Takes the name for the user (a no-op when they hold it); UsernameTakenError
 * when another does. Answers the reservation as it stands, the condition a
 * profile change naming it appends on: a release in between (a concurrent
 * request of the same user that gave it back) fails that append instead of
 * recording a name nobody holds.
 */
export async function reserveUsername(store: EventStore, normalised: string, userId: string, context: CommandContext): Promise<AppendCondition> {
  const hash = usernameHash(normalised);
  try {
    const { revision } = await handle(store, usernameReservationAggregate, hash, { type: 'ReserveUsername', usernameHash: hash, userId }, { context });
    return { streamName: usernameReservationAggregate.streamName(hash), revision };
  } catch (error) {
    if (error instanceof DomainError && error.code === 'CONFLICT') throw new UsernameTakenError(normalised);
    throw error;
  }
}

/** How often a release is decided again when the user's profile changed meanwhile. */
const RELEASE_ATTEMPTS = 5;

/**
 * Gives the name back unless the user's profile names it: what a profile
 * change that did not happen reserved, or the name a change replaced. Decided
 * on the user's stream as read, and appended only while it stands (a change
 * landing in between is read again), so a concurrent request of the same
 * user that recorded the name keeps it reserved.
 */
export async function releaseUnlessRecorded(store: EventStore, normalised: string, userId: string, context: CommandContext): Promise<void> {
  const hash = usernameHash(normalised);
  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await load(store, userAggregate, userId);
    if (state.account?.profile.username === normalised) return;
    const condition: AppendCondition = { streamName: userAggregate.streamName(userId), revision: revision < 0n ? 'no_stream' : revision };
    try {
      await handle(store, usernameReservationAggregate, hash, { type: 'ReleaseUsername', usernameHash: hash, userId }, { context, conditions: [condition] });
      return;
    } catch (error) {
      if (!(error instanceof ConditionFailedError) || attempt >= RELEASE_ATTEMPTS) throw error;
    }
  }
}
