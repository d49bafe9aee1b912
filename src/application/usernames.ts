import { z } from 'zod';
import { hashToken } from './opaque-tokens.js';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
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

/** Takes the name for the user (a no-op when they hold it); UsernameTakenError when another does. */
export async function reserveUsername(store: EventStore, normalised: string, userId: string, context: CommandContext): Promise<void> {
  const hash = usernameHash(normalised);
  try {
    await handle(store, usernameReservationAggregate, hash, { type: 'ReserveUsername', usernameHash: hash, userId }, { context });
  } catch (error) {
    if (error instanceof DomainError && error.code === 'CONFLICT') throw new UsernameTakenError(normalised);
    throw error;
  }
}

/** Gives the name back (a no-op unless the user holds it). */
export async function releaseUsername(store: EventStore, normalised: string, userId: string, context: CommandContext): Promise<void> {
  const hash = usernameHash(normalised);
  await handle(store, usernameReservationAggregate, hash, { type: 'ReleaseUsername', usernameHash: hash, userId }, { context });
}
