import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { hashToken } from './opaque-tokens.js';
import type { PasswordHasher } from './ports/password-hasher.js';
import type { EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { emailReservationAggregate } from '../write-model/user/email-reservation.js';
import { userAggregate } from '../write-model/user/decider.js';
import type { UserRole } from '../write-model/user/events.js';
import { reserveUsername } from './usernames.js';

/** Normalisation and limits of every registration, over HTTP or from the CLI. */
// the format is named for readers of the schema (the OpenAPI document): the pipe alone would show a plain string
export const emailSchema = z.string().trim().toLowerCase().max(254).pipe(z.email()).meta({ format: 'email' });
export const passwordSchema = z.string().min(8).max(1024);
export const displayNameSchema = z.string().trim().min(1).max(100);

/** The email is registered already (to anyone). */
export class EmailTakenError extends Error {
  constructor(readonly email: string) {
    super(`the email address ${email} is already registered`);
    this.name = 'EmailTakenError';
  }
}

export interface RegisterDeps {
  store: EventStore;
  passwordHasher: PasswordHasher;
}

export interface RegisterInput {
  /** normalised (emailSchema) */
  email: string;
  password: string;
  displayName: string;
  /** normalised (usernameSchema); optional */
  username?: string;
  role: UserRole;
  context: CommandContext;
}

export interface Registered {
  userId: string;
  email: string;
  username: string | null;
  role: UserRole;
  revision: bigint;
  position: Position | undefined;
}

/**
 * Reserve the email, then RegisterUser — for POST /api/v1/auth/register and
 * the CLI's `users create-admin` alike. The reservation stream is keyed by
 * sha256(email); a reservation left by a crashed earlier attempt is completed
 * under its reserved id; a CONFLICT from either decider (including two
 * completions racing) means the email is taken.
 */
export async function registerUser(deps: RegisterDeps, input: RegisterInput): Promise<Registered> {
  const { store, passwordHasher } = deps;
  const hash = hashToken(input.email);
  const taken = () => new EmailTakenError(input.email);
  // who: an anonymous sign-up is the new user registering themselves
  const contextFor = (id: string): CommandContext => (input.context.actor ? input.context : { ...input.context, actor: id });
  let userId = (await load(store, emailReservationAggregate, hash)).state.reservation?.userId;
  // reserved already: RegisterUser below completes a crashed attempt, or is CONFLICT (a fresh hash never matches the holder's)
  if (userId !== undefined && input.username !== undefined && (await load(store, userAggregate, userId)).state.account !== null) {
    throw taken(); // before the username is reserved for the holder of the email
  }
  if (userId === undefined) {
    userId = randomUUID();
    try {
      await handle(store, emailReservationAggregate, hash, { type: 'ReserveEmail', emailHash: hash, userId }, { context: contextFor(userId) });
    } catch (error) {
      if (error instanceof DomainError && error.code === 'CONFLICT') throw taken();
      throw error;
    }
  }
  if (input.username !== undefined) await reserveUsername(store, input.username, userId, contextFor(userId));
  const passwordHash = await passwordHasher.hash(input.password);
  try {
    const result = await handle(
      store,
      userAggregate,
      userId,
      {
        type: 'RegisterUser',
        userId,
        email: input.email,
        passwordHash,
        displayName: input.displayName,
        ...(input.username !== undefined ? { username: input.username } : {}),
        role: input.role,
        now: new Date().toISOString(),
      },
      { context: contextFor(userId) },
    );
    return { userId, email: input.email, username: input.username ?? null, role: input.role, revision: result.revision, position: result.position };
  } catch (error) {
    if (error instanceof DomainError && error.code === 'CONFLICT') throw taken();
    throw error;
  }
}
