import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { emailReservationAggregate, type EmailReservationCommand } from '../../../src/write-model/user/email-reservation.js';
import { historySource, sequence } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** sha256 of the stream's address; rarely another address's hash, the address in clear or upper-case hex instead. */
const EMAIL_HASH = sha('ann@example.com');

/**
 * One address's reservation: the first user reserves it, the same user's
 * retries are no-ops, another user is refused; now and then a malformed
 * hash (the address in clear, upper-case hex) or an empty user id.
 */
export const emailReservationHistories = historySource(
  emailReservationAggregate,
  sequence(
    fc.record({
      emailHash: fc.oneof(
        { arbitrary: fc.constant(EMAIL_HASH), weight: 12 },
        { arbitrary: fc.constantFrom(sha('bob@example.com'), 'ann@example.com', EMAIL_HASH.toUpperCase()), weight: 1 },
      ),
      userId: fc.oneof({ arbitrary: fc.constant('u1'), weight: 6 }, { arbitrary: fc.constantFrom('u2', ' '), weight: 1 }),
    }),
    (c): EmailReservationCommand => ({ type: 'ReserveEmail', emailHash: c.emailHash, userId: c.userId }),
    8,
  ),
);
