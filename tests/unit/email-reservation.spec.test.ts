import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  emailReservationAggregate,
  emailReservationDecider,
  emailReservationEvents,
  emailReservationStream,
  type EmailReservationEvent,
} from '../../src/write-model/user/email-reservation.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(emailReservationDecider);

const EMAIL_HASH = createHash('sha256').update('alice@example.com').digest('hex');
const reserve = { type: 'ReserveEmail', emailHash: EMAIL_HASH, userId: 'u-1' } as const;
const reserved: EmailReservationEvent = { type: 'EmailReserved', data: { emailHash: EMAIL_HASH, userId: 'u-1' } };

describe('email reservation', () => {
  it('names its stream user_email-{hash}; one event at most, so no snapshots', () => {
    expect(emailReservationStream(EMAIL_HASH)).to.equal(`user_email-${EMAIL_HASH}`);
    expect(emailReservationAggregate.streamName(EMAIL_HASH)).to.equal(`user_email-${EMAIL_HASH}`);
    expect(emailReservationAggregate.snapshot).to.equal(undefined);
  });

  it('decodes its stored event through its codec, and refuses a bad one', () => {
    expect(emailReservationEvents.decode({ type: 'EmailReserved', data: reserved.data, metadata: {} })).to.deep.equal(reserved);
    expect(() => emailReservationEvents.decode({ type: 'EmailReserved', data: { emailHash: EMAIL_HASH }, metadata: {} })).to.throw(/userId/);
  });

  describe('ReserveEmail', () => {
    it('reserves an address nobody holds', () => {
      spec.given([]).when(reserve).then([reserved]);
      spec
        .given([])
        .when(reserve)
        .thenState({ reservation: { emailHash: EMAIL_HASH, userId: 'u-1' } });
    });

    it('is a no-op when the same user reserves it again', () => {
      spec.given([reserved]).when(reserve).then([]);
    });

    it('refuses another user, revealing nothing about the holder', () => {
      spec
        .given([reserved])
        .when({ ...reserve, userId: 'u-2' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && !JSON.stringify(e.details).includes('u-1') && !e.message.includes('u-1'));
    });

    it('refuses an address in clear instead of its hash', () => {
      spec
        .given([])
        .when({ ...reserve, emailHash: 'alice@example.com' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'emailHash');
      spec
        .given([])
        .when({ ...reserve, emailHash: EMAIL_HASH.toUpperCase() })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'emailHash');
    });

    it('refuses a blank user id', () => {
      spec
        .given([])
        .when({ ...reserve, userId: '' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'userId');
    });
  });
});
