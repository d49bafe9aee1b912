import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { SealedSecret } from '../../src/write-model/core/sealed-secret.js';
import {
  RECOVERY_CODES_PER_SET,
  recoveryCodeRefusal,
  recoveryCodesLeft,
  totpStatus,
  userDecider,
  userEvents,
  type UserCommand,
  type UserEvent,
} from '../../src/write-model/user/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(userDecider);

const sha = (name: string) => createHash('sha256').update(name).digest('hex');
const U = 'u-1';
const T0 = '2026-03-01T08:00:00.000Z';
const T1 = '2026-03-01T09:00:00.000Z';
const T2 = '2026-03-01T10:00:00.000Z';
const T3 = '2026-03-01T11:00:00.000Z';

const box = (n: number): SealedSecret => ({ keyId: 'k1', iv: `aXYx${n}A==`, tag: `dGFn${n}A==`, ciphertext: `Y2lwaGVy${n}A==` });
const codes = (set: string) => Array.from({ length: RECOVERY_CODES_PER_SET }, (_, i) => sha(`${set}-${i}`));

const registered: UserEvent = {
  type: 'UserRegistered',
  data: {
    userId: U,
    email: 'alice@example.com',
    passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
    displayName: 'Alice',
    role: 'user',
    registeredAt: T0,
  },
};
const suspended: UserEvent = { type: 'UserSuspended', data: { userId: U, reason: 'abuse', sessionEpoch: 1, suspendedAt: T1 } };
const started = (n = 1, at = T1): UserEvent => ({ type: 'TotpEnrollmentStarted', data: { userId: U, secret: box(n), startedAt: at } });
const enabled = (set = 'a', at = T2): UserEvent => ({ type: 'TotpEnabled', data: { userId: U, recoveryCodeHashes: codes(set), enabledAt: at } });
const used = (hash: string, left: number, at = T3): UserEvent => ({
  type: 'RecoveryCodeUsed',
  data: { userId: U, codeHash: hash, recoveryCodesLeft: left, usedAt: at },
});
const on = [registered, started(), enabled()];

const refused =
  (code: string, reason?: string, field?: string) =>
  (e: DomainError): boolean =>
    e.code === code && (reason === undefined || e.details.reason === reason) && (field === undefined || e.details.field === field);

describe('User aggregate: TOTP and recovery codes', () => {
  describe('StartTotpEnrollment', () => {
    const start = (n = 1, now = T1): UserCommand => ({ type: 'StartTotpEnrollment', userId: U, secret: box(n), now });

    it('records the sealed secret as a pending enrollment', () => {
      spec.given([registered]).when(start()).then([started()]);
      const state = fold(userDecider, [registered, started()]);
      expect(totpStatus(state)).to.equal('pending');
      expect(recoveryCodesLeft(state)).to.equal(0);
    });

    it('replaces a pending enrollment with a new secret', () => {
      spec
        .given([registered, started(1)])
        .when(start(2, T2))
        .then([started(2, T2)]);
    });

    it('is a no-op with the pending box again', () => {
      spec
        .given([registered, started(1)])
        .when(start(1, T2))
        .then([]);
    });

    it('starts again after TOTP was turned off', () => {
      spec
        .given([...on, { type: 'TotpDisabled', data: { userId: U, via: 'totp', disabledAt: T3 } }])
        .when(start(3, T3))
        .then([started(3, T3)]);
    });

    it('is refused while TOTP is on', () => {
      spec.given(on).when(start(2, T3)).thenThrows(DomainError, refused('CONFLICT', 'totp_enabled'));
    });

    it('refuses a secret that is not a sealed box (a secret in clear)', () => {
      spec
        .given([registered])
        .when({ type: 'StartTotpEnrollment', userId: U, secret: 'JBSWY3DPEHPK3PXP' as unknown as SealedSecret, now: T1 })
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'secret'));
      spec
        .given([registered])
        .when({ type: 'StartTotpEnrollment', userId: U, secret: { ...box(1), plain: 'JBSWY3DPEHPK3PXP' } as SealedSecret, now: T1 })
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'secret'));
    });

    it('is NOT_FOUND for an unknown user and refused for a suspended one', () => {
      spec.given([]).when(start()).thenThrows(DomainError, refused('NOT_FOUND'));
      spec.given([registered, suspended]).when(start()).thenThrows(DomainError, refused('PERMISSION_DENIED', 'user_suspended'));
    });
  });

  describe('ConfirmTotp', () => {
    const confirm = (n = 1, set = 'a', now = T2): UserCommand => ({ type: 'ConfirmTotp', userId: U, secret: box(n), recoveryCodeHashes: codes(set), now });

    it('turns TOTP on with a set of recovery codes', () => {
      spec.given([registered, started()]).when(confirm()).then([enabled()]);
      const state = fold(userDecider, on);
      expect(totpStatus(state)).to.equal('on');
      expect(recoveryCodesLeft(state)).to.equal(RECOVERY_CODES_PER_SET);
    });

    it('is a no-op when the same confirmation is repeated', () => {
      spec
        .given(on)
        .when(confirm(1, 'a', T3))
        .then([]);
    });

    it('is refused once on with another set or box', () => {
      spec
        .given(on)
        .when(confirm(1, 'b', T3))
        .thenThrows(DomainError, refused('CONFLICT', 'totp_enabled'));
      spec
        .given(on)
        .when(confirm(2, 'a', T3))
        .thenThrows(DomainError, refused('CONFLICT', 'totp_enabled'));
    });

    it('is refused with no enrollment pending', () => {
      spec.given([registered]).when(confirm()).thenThrows(DomainError, refused('CONFLICT', 'totp_not_pending'));
    });

    it('is refused when a newer enrollment replaced the one the code was checked against', () => {
      spec
        .given([registered, started(1), started(2)])
        .when(confirm(1))
        .thenThrows(DomainError, refused('CONFLICT', 'totp_enrollment_replaced'));
    });

    it('needs exactly ten distinct sha256 hashes', () => {
      const withHashes = (recoveryCodeHashes: string[]): UserCommand => ({ type: 'ConfirmTotp', userId: U, secret: box(1), recoveryCodeHashes, now: T2 });
      const given = spec.given([registered, started()]);
      given.when(withHashes(codes('a').slice(1))).thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'recoveryCodeHashes'));
      given.when(withHashes([...codes('a').slice(1), codes('a')[0]!.toUpperCase()])).thenThrows(DomainError, refused('VALIDATION_ERROR'));
      given.when(withHashes([...codes('a').slice(1), 'abcd-efgh-ijkl-mnop'])).thenThrows(DomainError, refused('VALIDATION_ERROR'));
      given.when(withHashes([...codes('a').slice(1), codes('a')[1]!])).thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'recoveryCodeHashes'));
    });

    it('is refused for a suspended user', () => {
      spec.given([registered, started(), suspended]).when(confirm()).thenThrows(DomainError, refused('PERMISSION_DENIED', 'user_suspended'));
    });
  });

  describe('UseRecoveryCode', () => {
    const use = (hash: string, now = T3): UserCommand => ({ type: 'UseRecoveryCode', userId: U, codeHash: hash, now });
    const first = codes('a')[0]!;

    it('records the use with the codes left', () => {
      spec
        .given(on)
        .when(use(first))
        .then([used(first, RECOVERY_CODES_PER_SET - 1)]);
      expect(recoveryCodesLeft(fold(userDecider, [...on, used(first, 9)]))).to.equal(9);
    });

    it('refuses a used code: it never works twice', () => {
      spec
        .given([...on, used(first, 9)])
        .when(use(first))
        .thenThrows(DomainError, refused('PERMISSION_DENIED', 'recovery_code_used'));
      expect(recoveryCodeRefusal(fold(userDecider, [...on, used(first, 9)]), first)).to.equal('recovery_code_used');
    });

    it('refuses an unknown code, and one of a set that was replaced', () => {
      spec
        .given(on)
        .when(use(sha('never issued')))
        .thenThrows(DomainError, refused('PERMISSION_DENIED', 'recovery_code_invalid'));
      const regenerated: UserEvent = { type: 'RecoveryCodesRegenerated', data: { userId: U, recoveryCodeHashes: codes('b'), regeneratedAt: T3 } };
      spec
        .given([...on, regenerated])
        .when(use(first))
        .thenThrows(DomainError, refused('PERMISSION_DENIED', 'recovery_code_invalid'));
    });

    it('is refused while TOTP is off or only pending', () => {
      spec.given([registered]).when(use(first)).thenThrows(DomainError, refused('PERMISSION_DENIED', 'totp_off'));
      spec.given([registered, started()]).when(use(first)).thenThrows(DomainError, refused('PERMISSION_DENIED', 'totp_off'));
    });

    it('refuses a code in clear', () => {
      spec
        .given(on)
        .when(use('abcd-efgh-ijkl-mnop'))
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'codeHash'));
    });

    it('is refused for a suspended user', () => {
      spec
        .given([...on, suspended])
        .when(use(first))
        .thenThrows(DomainError, refused('PERMISSION_DENIED', 'user_suspended'));
    });

    it('uses up a set: the stream holds at most one use per code of a set', () => {
      let history = [...on];
      for (const [i, hash] of codes('a').entries()) {
        const events = userDecider.decide(use(hash), fold(userDecider, history));
        expect(events).to.deep.equal([used(hash, RECOVERY_CODES_PER_SET - 1 - i)]);
        history = [...history, ...events];
      }
      expect(recoveryCodesLeft(fold(userDecider, history))).to.equal(0);
      for (const hash of codes('a')) spec.given(history).when(use(hash)).thenThrows(DomainError, refused('PERMISSION_DENIED', 'recovery_code_used'));
    });
  });

  describe('RegenerateRecoveryCodes', () => {
    const regenerate = (set: string): UserCommand => ({ type: 'RegenerateRecoveryCodes', userId: U, recoveryCodeHashes: codes(set), now: T3 });

    it('replaces the set, used codes and all', () => {
      const first = codes('a')[0]!;
      spec
        .given([...on, used(first, 9)])
        .when(regenerate('b'))
        .then([{ type: 'RecoveryCodesRegenerated', data: { userId: U, recoveryCodeHashes: codes('b'), regeneratedAt: T3 } }]);
      const state = fold(userDecider, [
        ...on,
        used(first, 9),
        { type: 'RecoveryCodesRegenerated', data: { userId: U, recoveryCodeHashes: codes('b'), regeneratedAt: T3 } },
      ]);
      expect(recoveryCodesLeft(state)).to.equal(RECOVERY_CODES_PER_SET);
    });

    it('is a no-op with the set in force', () => {
      spec.given(on).when(regenerate('a')).then([]);
    });

    it('is refused unless TOTP is on', () => {
      spec.given([registered]).when(regenerate('b')).thenThrows(DomainError, refused('CONFLICT', 'totp_off'));
      spec.given([registered, started()]).when(regenerate('b')).thenThrows(DomainError, refused('CONFLICT', 'totp_off'));
    });

    it('needs a full set of hashes', () => {
      spec
        .given(on)
        .when({ type: 'RegenerateRecoveryCodes', userId: U, recoveryCodeHashes: [], now: T3 })
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'recoveryCodeHashes'));
    });
  });

  describe('DisableTotp', () => {
    const disable = (via: 'totp' | 'recovery_code' = 'totp'): UserCommand => ({ type: 'DisableTotp', userId: U, via, now: T3 });
    const disabled = (via: 'totp' | 'recovery_code' = 'totp'): UserEvent => ({ type: 'TotpDisabled', data: { userId: U, via, disabledAt: T3 } });

    it('turns TOTP off and voids the secret and the codes', () => {
      spec
        .given(on)
        .when(disable('recovery_code'))
        .then([disabled('recovery_code')]);
      const state = fold(userDecider, [...on, disabled()]);
      expect(state.totp).to.equal(null);
      expect(totpStatus(state)).to.equal('off');
      expect(recoveryCodeRefusal(state, codes('a')[1]!)).to.equal('totp_off');
    });

    it('drops a pending enrollment', () => {
      spec.given([registered, started()]).when(disable()).then([disabled()]);
    });

    it('is a no-op when off', () => {
      spec.given([registered]).when(disable()).then([]);
      spec
        .given([...on, disabled()])
        .when(disable())
        .then([]);
    });

    it('refuses an unknown via, an unknown user and a suspended one', () => {
      spec
        .given(on)
        .when({ type: 'DisableTotp', userId: U, via: 'sms' as 'totp', now: T3 })
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'via'));
      spec.given([]).when(disable()).thenThrows(DomainError, refused('NOT_FOUND'));
      spec
        .given([...on, suspended])
        .when(disable())
        .thenThrows(DomainError, refused('PERMISSION_DENIED', 'user_suspended'));
    });
  });

  describe('stored events', () => {
    it('decode through the codec, the secret as a sealed box only', () => {
      const events: UserEvent[] = [...on, used(codes('a')[0]!, 9), { type: 'TotpDisabled', data: { userId: U, via: 'totp', disabledAt: T3 } }];
      for (const event of events) {
        const decoded = userEvents.decode({ type: event.type, data: JSON.parse(JSON.stringify(event.data)) });
        expect(decoded).to.deep.include({ type: event.type, data: event.data });
      }
      expect(Object.keys((started().data as { secret: object }).secret).sort()).to.deep.equal(['ciphertext', 'iv', 'keyId', 'tag']);
    });
  });
});
