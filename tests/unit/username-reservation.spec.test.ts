import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { isUsername, normaliseUsername } from '../../src/write-model/user/username.js';
import { usernameReservationDecider, usernameReservationStream } from '../../src/write-model/user/username-reservation.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(usernameReservationDecider);
const H = createHash('sha256').update('alice').digest('hex');
const reserve = (userId: string) => ({ type: 'ReserveUsername', usernameHash: H, userId }) as const;
const release = (userId: string) => ({ type: 'ReleaseUsername', usernameHash: H, userId }) as const;
const reserved = (userId: string) => ({ type: 'UsernameReserved', data: { usernameHash: H, userId } }) as const;
const released = (userId: string) => ({ type: 'UsernameReleased', data: { usernameHash: H, userId } }) as const;
const conflict = (e: DomainError) => e.code === 'CONFLICT' && e.details.field === 'username';

describe('Username reservation', () => {
  it('lives in user_name-{hash}', () => {
    expect(usernameReservationStream(H)).to.equal(`user_name-${H}`);
  });

  it('reserves a free name, once per holder', () => {
    spec
      .given([])
      .when(reserve('u-1'))
      .then([reserved('u-1')]);
    spec
      .given([reserved('u-1')])
      .when(reserve('u-1'))
      .then([]);
  });

  it('refuses a name someone else holds, without naming them', () => {
    spec
      .given([reserved('u-1')])
      .when(reserve('u-2'))
      .thenThrows<DomainError>(DomainError, conflict);
  });

  it('gives a name back only for its holder; then anyone may take it', () => {
    spec
      .given([reserved('u-1')])
      .when(release('u-2'))
      .then([]);
    spec
      .given([reserved('u-1')])
      .when(release('u-1'))
      .then([released('u-1')]);
    spec
      .given([reserved('u-1'), released('u-1')])
      .when(release('u-1'))
      .then([]);
    spec
      .given([reserved('u-1'), released('u-1')])
      .when(reserve('u-2'))
      .then([reserved('u-2')]);
  });

  it('refuses a hash that is not sha256 hex and an empty user id', () => {
    spec
      .given([])
      .when({ ...reserve('u-1'), usernameHash: 'alice' })
      .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR');
    spec
      .given([])
      .when(reserve(' '))
      .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR');
  });
});

describe('Usernames', () => {
  it('normalise to NFKC lower case, trimmed', () => {
    expect(normaliseUsername(' Ａlice_W ')).to.equal('alice_w');
  });

  it('accept letters of any script, digits, _ . - from 3 to 30 characters', () => {
    for (const ok of ['abc', '小红书用户', 'a.b-c_d', '0123456789'.repeat(3)]) expect(isUsername(ok), ok).to.equal(true);
    for (const bad of ['ab', 'a@b.c', 'a b', 'Abc', 'x'.repeat(31), 'semi;colon']) expect(isUsername(bad), bad).to.equal(false);
  });
});
