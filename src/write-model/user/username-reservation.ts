import { z } from 'zod';
import type { Aggregate } from '../core/aggregate.js';
import type { Decider, DomainEvent } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The username reservation: one stream per normalised username,
 * `user_name-{sha256 hex of the username}`. It makes "one account per
 * username" hold without a read model, and lets a login by username find
 * its user.
 *
 * Unlike an email, a username can be changed: the user takes the new name
 * (UsernameReserved on its stream), then records it (the User's
 * UsernameChanged), then gives the old one back (UsernameReleased), after
 * which anyone may take it. The stream holds a few events at most: a name
 * changes hands only when a user lets it go.
 *
 * As with emails, uniqueness rests on the command handler appending with
 * the revision it read: of two concurrent reservations only one append
 * succeeds; the other is retried on the fresh state and refused (CONFLICT).
 */

export interface UsernameReservedData {
  usernameHash: string;
  userId: string;
}

export interface UsernameReleasedData {
  usernameHash: string;
  userId: string;
}

export type UsernameReservationEvent = DomainEvent<'UsernameReserved', UsernameReservedData> | DomainEvent<'UsernameReleased', UsernameReleasedData>;

const shape = z.object({ usernameHash: z.string(), userId: z.string() });

/** The decode boundary of the reservation's stored events (see core/event-codec.ts). */
export const usernameReservationEvents = eventCodec<UsernameReservationEvent>({
  UsernameReserved: { schema: shape },
  UsernameReleased: { schema: shape },
});

export interface ReserveUsername {
  type: 'ReserveUsername';
  /** sha256 hex of the normalised username */
  usernameHash: string;
  userId: string;
}

/** Gives the name back; a no-op unless `userId` holds it. */
export interface ReleaseUsername {
  type: 'ReleaseUsername';
  usernameHash: string;
  userId: string;
}

export type UsernameReservationCommand = ReserveUsername | ReleaseUsername;

export interface UsernameReservationState {
  /** who holds the name now; null: free */
  holder: string | null;
}

export function initialUsernameReservationState(): UsernameReservationState {
  return { holder: null };
}

export function usernameReservationStream(usernameHash: string): string {
  return `user_name-${usernameHash}`;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function decide(command: UsernameReservationCommand, state: UsernameReservationState): UsernameReservationEvent[] {
  if (typeof command.usernameHash !== 'string' || !SHA256_HEX.test(command.usernameHash)) {
    throw new DomainError('VALIDATION_ERROR', 'usernameHash must be a sha256 hex digest', { field: 'usernameHash' });
  }
  if (typeof command.userId !== 'string' || command.userId.trim() === '') {
    throw new DomainError('VALIDATION_ERROR', 'userId must not be empty', { field: 'userId' });
  }
  const data = { usernameHash: command.usernameHash, userId: command.userId };
  switch (command.type) {
    case 'ReserveUsername':
      if (state.holder === command.userId) return [];
      // nothing about the holder: the caller learns only that the name is taken
      if (state.holder !== null) throw new DomainError('CONFLICT', 'the username is taken', { field: 'username' });
      return [{ type: 'UsernameReserved', data }];
    case 'ReleaseUsername':
      return state.holder === command.userId ? [{ type: 'UsernameReleased', data }] : [];
  }
}

function evolve(state: UsernameReservationState, event: UsernameReservationEvent): UsernameReservationState {
  state.holder = event.type === 'UsernameReserved' ? event.data.userId : null;
  return state;
}

export const usernameReservationDecider: Decider<UsernameReservationState, UsernameReservationCommand, UsernameReservationEvent> = {
  initialState: initialUsernameReservationState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `user_name-{usernameHash}`, a few events at most (no snapshots). */
export const usernameReservationAggregate: Aggregate<UsernameReservationState, UsernameReservationCommand, UsernameReservationEvent> = {
  name: 'username_reservation',
  streamName: usernameReservationStream,
  decider: usernameReservationDecider,
  events: usernameReservationEvents,
};
