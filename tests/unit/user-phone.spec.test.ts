import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { SealedSecret } from '../../src/write-model/core/sealed-secret.js';
import {
  mfaEnabled,
  phoneCodeRefusal,
  RECOVERY_CODES_PER_SET,
  smsMfaOn,
  userDecider,
  userEvents,
  type UserCommand,
  type UserEvent,
} from '../../src/write-model/user/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(userDecider);

const hex = (name: string) => createHash('sha256').update(name).digest('hex');
const U = 'u-1';
const ADMIN = 'admin-1';
const PHONE = '+8613800138000';
const OTHER = '+8613900139000';
const T0 = '2026-03-01T08:00:00.000Z';
const T1 = '2026-03-01T09:00:00.000Z';
const T1_5 = '2026-03-01T09:05:00.000Z';
const T2 = '2026-03-01T09:10:00.000Z';
const T3 = '2026-03-01T11:00:00.000Z';

const box: SealedSecret = { keyId: 'k1', iv: 'aXYxA==', tag: 'dGFnA==', ciphertext: 'Y2lwaGVyA==' };

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
const started = (code = 'c1', phone = PHONE, at = T1, expiresAt = T2): UserEvent => ({
  type: 'PhoneVerificationStarted',
  data: { userId: U, phoneE164: phone, codeHash: hex(code), expiresAt, startedAt: at },
});
const verified = (phone = PHONE, at = T1_5): UserEvent => ({ type: 'PhoneNumberVerified', data: { userId: U, phoneE164: phone, verifiedAt: at } });
const smsOn = (at = T3): UserEvent => ({ type: 'SmsMfaEnabled', data: { userId: U, phoneE164: PHONE, enabledAt: at } });
const totpOn: UserEvent[] = [
  { type: 'TotpEnrollmentStarted', data: { userId: U, secret: box, startedAt: T1 } },
  { type: 'TotpEnabled', data: { userId: U, recoveryCodeHashes: Array.from({ length: RECOVERY_CODES_PER_SET }, (_, i) => hex(`r${i}`)), enabledAt: T1 } },
];
const withPhone = [registered, started(), verified()];

const refused =
  (code: string, reason?: string, field?: string) =>
  (e: DomainError): boolean =>
    e.code === code && (reason === undefined || e.details.reason === reason) && (field === undefined || e.details.field === field);

describe('User aggregate: phone number, SMS factor, MFA reset', () => {
  describe('StartPhoneVerification', () => {
    const start = (code = 'c1', phone = PHONE, now = T1, expiresAt = T2): UserCommand => ({
      type: 'StartPhoneVerification',
      userId: U,
      phoneE164: phone,
      codeHash: hex(code),
      expiresAt,
      now,
    });

    it("records the number, the code's hash and the expiry", () => {
      spec.given([registered]).when(start()).then([started()]);
    });

    it('a new code supersedes a pending one (another number too); the same pending code again is a no-op', () => {
      spec
        .given([registered, started()])
        .when(start('c2', OTHER))
        .then([started('c2', OTHER)]);
      spec.given([registered, started()]).when(start()).then([]);
    });

    it('refuses a number not in E.164, a code not hashed, an expiry not after now', () => {
      spec
        .given([registered])
        .when(start('c1', '13800138000'))
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'phoneE164'));
      spec
        .given([registered])
        .when({ ...start(), codeHash: '123456' } as UserCommand)
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'codeHash'));
      spec
        .given([registered])
        .when(start('c1', PHONE, T2, T1))
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'expiresAt'));
    });

    it('refuses the number verified already, and any number while SMS is a factor', () => {
      spec.given(withPhone).when(start('c2')).thenThrows(DomainError, refused('CONFLICT', 'phone_verified'));
      spec
        .given([...withPhone, smsOn()])
        .when(start('c2', OTHER))
        .thenThrows(DomainError, refused('CONFLICT', 'sms_mfa_enabled'));
    });

    it('a verified number may be replaced by another while SMS is off (the old stays until the new is verified)', () => {
      spec
        .given(withPhone)
        .when(start('c2', OTHER, T3, '2026-03-01T12:00:00.000Z'))
        .then([started('c2', OTHER, T3, '2026-03-01T12:00:00.000Z')]);
      const state = fold(userDecider, [...withPhone, started('c2', OTHER, T3, '2026-03-01T12:00:00.000Z')]);
      expect(state.phone?.e164).to.equal(PHONE);
    });

    it('refuses an unknown user and a suspended one', () => {
      spec.given([]).when(start()).thenThrows(DomainError, refused('NOT_FOUND'));
      spec.given([registered, suspended]).when(start()).thenThrows(DomainError, refused('PERMISSION_DENIED', 'user_suspended'));
    });
  });

  describe('VerifyPhoneNumber', () => {
    const verify = (code = 'c1', now = T1_5): UserCommand => ({ type: 'VerifyPhoneNumber', userId: U, codeHash: hex(code), now });

    it("the pending code's hash verifies its number", () => {
      spec.given([registered, started()]).when(verify()).then([verified()]);
    });

    it('refuses a wrong code, a superseded one, a used one (invalid) and an expired one', () => {
      spec.given([registered, started()]).when(verify('nope')).thenThrows(DomainError, refused('PERMISSION_DENIED', 'phone_code_invalid'));
      spec
        .given([registered, started(), started('c2')])
        .when(verify('c1'))
        .thenThrows(DomainError, refused('PERMISSION_DENIED', 'phone_code_invalid'));
      spec.given(withPhone).when(verify()).thenThrows(DomainError, refused('PERMISSION_DENIED', 'phone_code_invalid'));
      spec.given([registered, started()]).when(verify('c1', T2)).thenThrows(DomainError, refused('PERMISSION_DENIED', 'phone_code_expired'));
    });

    it('phoneCodeRefusal says the same before the decision', () => {
      const state = fold(userDecider, [registered, started()]);
      expect(phoneCodeRefusal(state, hex('c1'), Date.parse(T1_5))).to.equal(null);
      expect(phoneCodeRefusal(state, hex('x'), Date.parse(T1_5))).to.equal('phone_code_invalid');
      expect(phoneCodeRefusal(state, hex('c1'), Date.parse(T2))).to.equal('phone_code_expired');
    });

    it('the state keeps the verified number and drops the pending code', () => {
      const state = fold(userDecider, withPhone);
      expect(state.phone).to.deep.equal({ e164: PHONE, verifiedAt: T1_5 });
      expect(state.phoneVerification).to.equal(null);
    });
  });

  describe('RemovePhoneNumber', () => {
    const remove: UserCommand = { type: 'RemovePhoneNumber', userId: U, now: T3 };

    it('removes the verified number, or a pending one; none is a no-op', () => {
      spec
        .given(withPhone)
        .when(remove)
        .then([{ type: 'PhoneNumberRemoved', data: { userId: U, phoneE164: PHONE, removedAt: T3 } }]);
      spec
        .given([registered, started('c1', OTHER)])
        .when(remove)
        .then([{ type: 'PhoneNumberRemoved', data: { userId: U, phoneE164: OTHER, removedAt: T3 } }]);
      spec.given([registered]).when(remove).then([]);
    });

    it('is refused while SMS is a factor', () => {
      spec
        .given([...withPhone, smsOn()])
        .when(remove)
        .thenThrows(DomainError, refused('CONFLICT', 'sms_mfa_enabled'));
    });
  });

  describe('EnableSmsMfa / DisableSmsMfa', () => {
    const enable: UserCommand = { type: 'EnableSmsMfa', userId: U, now: T3 };
    const disable: UserCommand = { type: 'DisableSmsMfa', userId: U, now: T3 };

    it('needs a verified number; on already is a no-op', () => {
      spec.given([registered, started()]).when(enable).thenThrows(DomainError, refused('CONFLICT', 'phone_not_verified'));
      spec.given(withPhone).when(enable).then([smsOn()]);
      spec
        .given([...withPhone, smsOn()])
        .when(enable)
        .then([]);
    });

    it('turns off; off already is a no-op', () => {
      spec
        .given([...withPhone, smsOn()])
        .when(disable)
        .then([{ type: 'SmsMfaDisabled', data: { userId: U, disabledAt: T3 } }]);
      spec.given(withPhone).when(disable).then([]);
    });

    it('mfaEnabled is TOTP on or SMS on', () => {
      expect(mfaEnabled(fold(userDecider, withPhone))).to.equal(false);
      expect(mfaEnabled(fold(userDecider, [...withPhone, smsOn()]))).to.equal(true);
      expect(smsMfaOn(fold(userDecider, [...withPhone, smsOn()]))).to.equal(true);
      expect(mfaEnabled(fold(userDecider, [registered, ...totpOn]))).to.equal(true);
      expect(mfaEnabled(fold(userDecider, [registered, totpOn[0]!]))).to.equal(false);
    });
  });

  describe('ResetMfa', () => {
    const reset = (reason = 'lost the phone'): UserCommand => ({ type: 'ResetMfa', userId: U, by: ADMIN, reason, now: T3 });
    const resetEvent: UserEvent = { type: 'MfaReset', data: { userId: U, by: ADMIN, reason: 'lost the phone', resetAt: T3 } };

    it('clears TOTP (secret and recovery codes) and the SMS factor, keeping the number', () => {
      spec
        .given([...withPhone, ...totpOn, smsOn()])
        .when(reset())
        .then([resetEvent]);
      const state = fold(userDecider, [...withPhone, ...totpOn, smsOn(), resetEvent]);
      expect(state.totp).to.equal(null);
      expect(state.smsMfaSince).to.equal(null);
      expect(state.phone?.e164).to.equal(PHONE);
      expect(mfaEnabled(state)).to.equal(false);
    });

    it('works for a suspended user; nothing on is a no-op', () => {
      spec
        .given([registered, ...totpOn, suspended])
        .when(reset())
        .then([resetEvent]);
      spec.given(withPhone).when(reset()).then([]);
    });

    it('needs a reason of 1..500 characters and a known user', () => {
      spec
        .given([registered, ...totpOn])
        .when(reset('  '))
        .thenThrows(DomainError, refused('VALIDATION_ERROR'));
      spec
        .given([registered, ...totpOn])
        .when(reset('x'.repeat(501)))
        .thenThrows(DomainError, refused('VALIDATION_ERROR', undefined, 'reason'));
      spec.given([]).when(reset()).thenThrows(DomainError, refused('NOT_FOUND'));
    });
  });

  it('the codec decodes every new event as stored', () => {
    const events: UserEvent[] = [
      started(),
      verified(),
      smsOn(),
      { type: 'SmsMfaDisabled', data: { userId: U, disabledAt: T3 } },
      { type: 'PhoneNumberRemoved', data: { userId: U, phoneE164: PHONE, removedAt: T3 } },
      { type: 'MfaReset', data: { userId: U, by: ADMIN, reason: 'r', resetAt: T3 } },
    ];
    for (const event of events) {
      const decoded = userEvents.decode({ type: event.type, data: JSON.parse(JSON.stringify(event.data)) });
      expect(decoded).to.deep.include({ type: event.type, data: event.data });
    }
  });
});
