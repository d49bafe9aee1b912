import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { usernameReservationAggregate, type UsernameReservationCommand } from '../../../src/write-model/user/username-reservation.js';
import { historySource, sequence } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** sha256 of the stream's name; rarely a malformed one (the name in clear, upper-case hex). */
const NAME_HASH = sha('ann');

/**
 * One name passing between users: reserved, released by its holder (or, to
 * no effect, by someone else), taken by another; now and then a malformed
 * hash or an empty user id.
 */
export const usernameReservationHistories = historySource(
  usernameReservationAggregate,
  sequence(
    fc.record({
      release: fc.boolean(),
      usernameHash: fc.oneof({ arbitrary: fc.constant(NAME_HASH), weight: 12 }, { arbitrary: fc.constantFrom('ann', NAME_HASH.toUpperCase()), weight: 1 }),
      userId: fc.oneof({ arbitrary: fc.constantFrom('u1', 'u2'), weight: 6 }, { arbitrary: fc.constant(' '), weight: 1 }),
    }),
    (c): UsernameReservationCommand => ({ type: c.release ? 'ReleaseUsername' : 'ReserveUsername', usernameHash: c.usernameHash, userId: c.userId }),
    10,
  ),
);
