import { z } from 'zod';
import type { Aggregate } from '../core/aggregate.js';
import type { Decider, DomainEvent } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The email reservation: one stream per normalised email address,
 * `user_email-{sha256 hex of the email}`, holding at most one EmailReserved.
 * It makes "one account per email" hold without a read model.
 *
 * The decider stays pure: the adapter normalises the address (trim,
 * lower-case), hashes it and builds ReserveEmail; the address itself never
 * enters this stream.
 *
 * Uniqueness relies on the command handler appending with the revision it
 * read — `no_stream` for an address nobody has reserved (handle does this
 * by itself). Of two concurrent reservations of the same address both
 * decide EmailReserved, but only one append with expected revision
 * `no_stream` succeeds; the other gets WrongExpectedVersion, is retried on
 * the fresh state and is refused with CONFLICT. (Passing `expectedRevision:
 * 'no_stream'` to handle explicitly would also keep the address
 * unique, but would turn the same user's idempotent repeat into a conflict.)
 *
 * Registration order: ReserveEmail {emailHash, userId}, then RegisterUser
 * for the same userId; a retry of both with the same userId is a no-op.
 */

export interface EmailReservedData {
  emailHash: string;
  userId: string;
}

export type EmailReservationEvent = DomainEvent<'EmailReserved', EmailReservedData>;

/** The decode boundary of the reservation's stored events (see core/event-codec.ts). */
export const emailReservationEvents = eventCodec<EmailReservationEvent>({
  EmailReserved: { schema: z.object({ emailHash: z.string(), userId: z.string() }) },
});

export interface ReserveEmail {
  type: 'ReserveEmail';
  /** sha256 hex of the normalised email */
  emailHash: string;
  userId: string;
}

export type EmailReservationCommand = ReserveEmail;

export interface EmailReservationState {
  /** null until reserved */
  reservation: EmailReservedData | null;
}

export function initialEmailReservationState(): EmailReservationState {
  return { reservation: null };
}

export function emailReservationStream(emailHash: string): string {
  return `user_email-${emailHash}`;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function decide(command: EmailReservationCommand, state: EmailReservationState): EmailReservationEvent[] {
  if (typeof command.emailHash !== 'string' || !SHA256_HEX.test(command.emailHash)) {
    throw new DomainError('VALIDATION_ERROR', 'emailHash must be a sha256 hex digest', { field: 'emailHash' });
  }
  if (typeof command.userId !== 'string' || command.userId.trim() === '') {
    throw new DomainError('VALIDATION_ERROR', 'userId must not be empty', { field: 'userId' });
  }
  const reservation = state.reservation;
  if (reservation !== null) {
    if (reservation.userId === command.userId && reservation.emailHash === command.emailHash) return [];
    // nothing about the holder: the caller learns only that the address is taken
    throw new DomainError('CONFLICT', 'the email address is already registered', { field: 'email' });
  }
  return [{ type: 'EmailReserved', data: { emailHash: command.emailHash, userId: command.userId } }];
}

function evolve(state: EmailReservationState, event: EmailReservationEvent): EmailReservationState {
  switch (event.type) {
    case 'EmailReserved':
      state.reservation = { emailHash: event.data.emailHash, userId: event.data.userId };
      return state;
  }
}

export const emailReservationDecider: Decider<EmailReservationState, EmailReservationCommand, EmailReservationEvent> = {
  initialState: initialEmailReservationState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `user_email-{emailHash}`, one event at most (no snapshots). */
export const emailReservationAggregate: Aggregate<EmailReservationState, EmailReservationCommand, EmailReservationEvent> = {
  name: 'email_reservation',
  streamName: emailReservationStream,
  decider: emailReservationDecider,
  events: emailReservationEvents,
};
