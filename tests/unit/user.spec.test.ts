import { SNAPSHOT_EVERY } from '../../src/write-model/core/aggregate.js';
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { fold } from '../../src/write-model/core/decider.js';
import {
  initialState,
  userAggregate,
  userDecider,
  userEvents,
  userStanding,
  userStream,
  type UserEvent,
  type UserState,
} from '../../src/write-model/user/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(userDecider);

const sha = (name: string) => createHash('sha256').update(name).digest('hex');
const argon = (name: string) => `$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$${name}`;

const U = 'u-1';
const EMAIL = 'alice@example.com';
const PW1 = argon('first');
const PW2 = argon('second');

const T0 = '2025-03-01T08:00:00.000Z';
const T1 = '2025-03-01T09:00:00.000Z';
const T2 = '2025-03-01T10:00:00.000Z';
const T3 = '2025-03-01T11:00:00.000Z';

const registered: UserEvent = {
  type: 'UserRegistered',
  data: { userId: U, email: EMAIL, passwordHash: PW1, displayName: 'Alice', role: 'user', registeredAt: T0 },
};

const suspended: UserEvent = { type: 'UserSuspended', data: { userId: U, reason: 'abuse', sessionEpoch: 1, suspendedAt: T1 } };
const reactivated: UserEvent = { type: 'UserReactivated', data: { userId: U, reactivatedAt: T2 } };

function resetRequested(token: string, expiresAt = T2, at = T1): UserEvent {
  return { type: 'PasswordResetRequested', data: { userId: U, resetTokenHash: sha(token), expiresAt, requestedAt: at } };
}

const code =
  (expected: string, reason?: string) =>
  (e: DomainError): boolean =>
    e.code === expected && (reason === undefined || e.details.reason === reason);

function registeredState(overrides: Partial<UserState> = {}): UserState {
  return {
    status: 'active',
    account: {
      userId: U,
      email: EMAIL,
      passwordHash: PW1,
      role: 'user',
      profile: { displayName: 'Alice', avatarUrl: null, timezone: null, username: null, notificationPreferences: {} },
      registeredAt: T0,
      passwordChangedAt: null,
    },
    suspension: null,
    passwordReset: null,
    emailVerifiedAt: null,
    emailVerification: null,
    sessionEpoch: 0,
    keptSession: null,
    totp: null,
    phone: null,
    phoneVerification: null,
    smsMfaSince: null,
    ...overrides,
  };
}

describe('User aggregate', () => {
  it('names its stream user-{id}, and is snapshotted', () => {
    expect(userStream('abc')).to.equal('user-abc');
    expect(userAggregate.streamName('abc')).to.equal('user-abc');
    expect(userAggregate.snapshot).to.deep.equal({ version: 5, every: SNAPSHOT_EVERY.lifecycle });
  });

  it('starts unregistered', () => {
    expect(userDecider.initialState()).to.deep.equal(initialState());
    expect(initialState()).to.deep.equal({
      status: 'unregistered',
      account: null,
      suspension: null,
      passwordReset: null,
      emailVerifiedAt: null,
      emailVerification: null,
      sessionEpoch: 0,
      keptSession: null,
      totp: null,
      phone: null,
      phoneVerification: null,
      smsMfaSince: null,
    });
  });

  describe('RegisterUser', () => {
    const register = { type: 'RegisterUser', userId: U, email: EMAIL, passwordHash: PW1, displayName: 'Alice', role: 'user', now: T0 } as const;

    it('registers a new user', () => {
      spec.given([]).when(register).then([registered]);
    });

    it('registers an admin', () => {
      spec
        .given([])
        .when({ ...register, role: 'admin' })
        .then([{ type: 'UserRegistered', data: { ...registered.data, role: 'admin' } } as UserEvent]);
    });

    it('leaves an active user with the registered account in session epoch 0', () => {
      spec.given([]).when(register).thenState(registeredState());
    });

    it('is a no-op when repeated with the same email and password hash', () => {
      spec.given([registered]).when(register).then([]);
      spec
        .given([registered])
        .when({ ...register, displayName: 'Other', now: T1 })
        .then([]);
    });

    it('refuses an existing user with another password hash', () => {
      spec
        .given([registered])
        .when({ ...register, passwordHash: PW2 })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses an existing user with another email', () => {
      spec
        .given([registered])
        .when({ ...register, email: 'bob@example.com' })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses an email that is not normalised', () => {
      spec
        .given([])
        .when({ ...register, email: ' Alice@Example.com' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'email');
      spec
        .given([])
        .when({ ...register, email: 'alice' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });

    it('refuses a password in clear, without echoing it', () => {
      spec
        .given([])
        .when({ ...register, passwordHash: 'hunter2' })
        .thenThrows<DomainError>(
          DomainError,
          (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'passwordHash' && !JSON.stringify(e.details).includes('hunter2'),
        );
    });

    it('refuses an unknown role, a blank display name and a bad time', () => {
      spec
        .given([])
        .when({ ...register, role: 'root' as 'user' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...register, displayName: '  ' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...register, now: 'yesterday' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('UpdateProfile', () => {
    const update = { type: 'UpdateProfile', userId: U, now: T1 } as const;

    it('records only the fields that changed', () => {
      spec
        .given([registered])
        .when({ ...update, displayName: 'Alice', avatarUrl: 'https://cdn.example.com/a.png', timezone: 'Asia/Shanghai' })
        .then([
          {
            type: 'ProfileUpdated',
            data: { userId: U, avatarUrl: 'https://cdn.example.com/a.png', timezone: 'Asia/Shanghai', updatedAt: T1 },
          },
        ]);
    });

    it('folds the changes into the profile', () => {
      spec
        .given([registered])
        .when({ ...update, displayName: 'Alice W.', timezone: 'Asia/Shanghai' })
        .thenState(
          registeredState({
            account: {
              ...registeredState().account!,
              profile: { displayName: 'Alice W.', avatarUrl: null, timezone: 'Asia/Shanghai', username: null, notificationPreferences: {} },
            },
          }),
        );
    });

    it('clears the avatar with null', () => {
      const withAvatar: UserEvent = { type: 'ProfileUpdated', data: { userId: U, avatarUrl: 'https://cdn.example.com/a.png', updatedAt: T0 } };
      spec
        .given([registered, withAvatar])
        .when({ ...update, avatarUrl: null })
        .then([{ type: 'ProfileUpdated', data: { userId: U, avatarUrl: null, updatedAt: T1 } }]);
    });

    it('is a no-op when nothing changes', () => {
      spec
        .given([registered])
        .when({ ...update, displayName: 'Alice', avatarUrl: null, timezone: null })
        .then([]);
      spec.given([registered]).when(update).then([]);
    });

    it('refuses an unknown user', () => {
      spec
        .given([])
        .when({ ...update, displayName: 'X' })
        .thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses a suspended user, and accepts them again once reactivated', () => {
      spec
        .given([registered, suspended])
        .when({ ...update, displayName: 'X' })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
      spec
        .given([registered, suspended, reactivated])
        .when({ ...update, displayName: 'X' })
        .then([{ type: 'ProfileUpdated', data: { userId: U, displayName: 'X', updatedAt: T1 } }]);
    });

    it('refuses a blank display name', () => {
      spec
        .given([registered])
        .when({ ...update, displayName: '' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });

    it('records a new username with the one it replaces, and nothing for the same name', () => {
      spec
        .given([registered])
        .when({ ...update, username: 'alice' })
        .then([{ type: 'ProfileUpdated', data: { userId: U, username: 'alice', previousUsername: null, updatedAt: T1 } }]);
      const named: UserEvent = { type: 'ProfileUpdated', data: { userId: U, username: 'alice', previousUsername: null, updatedAt: T0 } };
      spec
        .given([registered, named])
        .when({ ...update, username: 'alice_w' })
        .then([{ type: 'ProfileUpdated', data: { userId: U, username: 'alice_w', previousUsername: 'alice', updatedAt: T1 } }]);
      spec
        .given([registered, named])
        .when({ ...update, username: 'alice' })
        .then([]);
    });

    it('refuses a username that is not normalised or has characters a name cannot have', () => {
      for (const username of ['Alice', 'al', 'a@b.c', 'with space', 'x'.repeat(31)]) {
        spec
          .given([registered])
          .when({ ...update, username })
          .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });

    it('takes the username given at registration', () => {
      spec
        .given([{ ...registered, data: { ...registered.data, username: '小红书' } } as UserEvent])
        .when({ ...update, username: '小红书' })
        .then([]);
    });

    it('merges notification preferences per kind and records the whole map', () => {
      const muted: UserEvent = {
        type: 'ProfileUpdated',
        data: { userId: U, notificationPreferences: { quota_exceeded: { inApp: true, mail: false } }, updatedAt: T0 },
      };
      spec
        .given([registered, muted])
        .when({ ...update, notificationPreferences: { payment_received: { inApp: false, mail: true } } })
        .then([
          {
            type: 'ProfileUpdated',
            data: {
              userId: U,
              notificationPreferences: { quota_exceeded: { inApp: true, mail: false }, payment_received: { inApp: false, mail: true } },
              updatedAt: T1,
            },
          },
        ]);
      spec
        .given([registered, muted])
        .when({ ...update, notificationPreferences: { quota_exceeded: { inApp: true, mail: false } } })
        .then([]);
    });

    it('refuses preferences for an unknown kind or without both channels', () => {
      spec
        .given([registered])
        .when({ ...update, notificationPreferences: { birthday: { inApp: true, mail: true } } })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([registered])
        .when({ ...update, notificationPreferences: { quota_exceeded: { inApp: true } } as never })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('RequestEmailVerification and VerifyEmail', () => {
    const requested = (token: string, expiresAt = T2, at = T1): UserEvent => ({
      type: 'EmailVerificationRequested',
      data: { userId: U, verifyTokenHash: sha(token), expiresAt, requestedAt: at },
    });
    const verified: UserEvent = { type: 'EmailVerified', data: { userId: U, email: EMAIL, verifiedAt: T1 } };
    const request = { type: 'RequestEmailVerification', userId: U, verifyTokenHash: sha('verify-1'), expiresAt: T2, now: T1 } as const;
    const verify = { type: 'VerifyEmail', userId: U, verifyTokenHash: sha('verify-1'), now: T1 } as const;

    it('records a request; the same token again is a no-op; a newer one supersedes it', () => {
      spec
        .given([registered])
        .when(request)
        .then([requested('verify-1')]);
      spec
        .given([registered, requested('verify-1')])
        .when(request)
        .then([]);
      spec
        .given([registered, requested('verify-1')])
        .when({ ...request, verifyTokenHash: sha('verify-2'), expiresAt: T3, now: T2 })
        .then([requested('verify-2', T3, T2)]);
      spec
        .given([registered])
        .when(request)
        .thenState(registeredState({ emailVerification: { verifyTokenHash: sha('verify-1'), expiresAt: T2 } }));
    });

    it('refuses a request once verified (CONFLICT), for an unknown or suspended user, with a token in clear', () => {
      spec
        .given([registered, requested('verify-1'), verified])
        .when(request)
        .thenThrows<DomainError>(DomainError, code('CONFLICT', 'email_verified'));
      spec.given([]).when(request).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered, suspended]).when(request).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
      spec
        .given([registered])
        .when({ ...request, verifyTokenHash: 'verify-1' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });

    it('verifies with the latest token before it expires; following the link again changes nothing', () => {
      spec
        .given([registered, requested('verify-1')])
        .when(verify)
        .then([verified]);
      spec
        .given([registered, requested('verify-1')])
        .when(verify)
        .thenState(registeredState({ emailVerifiedAt: T1, emailVerification: null }));
      spec
        .given([registered, requested('verify-1'), verified])
        .when(verify)
        .then([]);
    });

    it('refuses a superseded, unknown or expired token (PERMISSION_DENIED with the reason)', () => {
      spec
        .given([registered, requested('verify-1'), requested('verify-2', T3, T2)])
        .when(verify)
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'verify_token_invalid'));
      spec.given([registered]).when(verify).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'verify_token_invalid'));
      spec
        .given([registered, requested('verify-1')])
        .when({ ...verify, now: T3 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'verify_token_expired'));
    });
  });

  describe('RequestPasswordReset', () => {
    const request = { type: 'RequestPasswordReset', userId: U, resetTokenHash: sha('reset-1'), expiresAt: T2, now: T1 } as const;

    it('records the request', () => {
      spec
        .given([registered])
        .when(request)
        .then([resetRequested('reset-1')]);
      spec
        .given([registered])
        .when(request)
        .thenState(registeredState({ passwordReset: { resetTokenHash: sha('reset-1'), expiresAt: T2, requestedAt: T1 } }));
    });

    it('is a no-op when repeated with the pending token', () => {
      spec
        .given([registered, resetRequested('reset-1')])
        .when(request)
        .then([]);
    });

    it('supersedes an earlier request with a newer one', () => {
      spec
        .given([registered, resetRequested('reset-1')])
        .when({ ...request, resetTokenHash: sha('reset-2'), expiresAt: T3, now: T2 })
        .then([resetRequested('reset-2', T3, T2)]);
    });

    it('refuses an unknown user and a suspended one', () => {
      spec.given([]).when(request).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered, suspended]).when(request).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('refuses an expiry that is not in the future and a token in clear', () => {
      spec
        .given([registered])
        .when({ ...request, expiresAt: T0 })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([registered])
        .when({ ...request, resetTokenHash: 'reset-1' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('ResetPassword', () => {
    const reset = { type: 'ResetPassword', userId: U, resetTokenHash: sha('reset-1'), newPasswordHash: PW2, now: T1 } as const;
    const changedByReset: UserEvent = {
      type: 'PasswordChanged',
      data: { userId: U, passwordHash: PW2, via: 'reset', keptSession: null, sessionEpoch: 1, changedAt: T1 },
    };

    it('changes the password and revokes every session (the next epoch, none kept)', () => {
      spec
        .given([registered, resetRequested('reset-1', T2, T0)])
        .when(reset)
        .then([changedByReset]);
    });

    it('installs the new hash, uses the token up and moves to the next epoch', () => {
      spec
        .given([registered, resetRequested('reset-1', T2, T0)])
        .when(reset)
        .thenState(registeredState({ account: { ...registeredState().account!, passwordHash: PW2, passwordChangedAt: T1 }, sessionEpoch: 1 }));
    });

    it('drops the session an earlier change kept', () => {
      const keptS1: UserEvent = {
        type: 'PasswordChanged',
        data: { userId: U, passwordHash: argon('third'), via: 'profile', keptSession: { sessionId: 's1', sinceEpoch: 0 }, sessionEpoch: 1, changedAt: T0 },
      };
      spec
        .given([registered, keptS1, resetRequested('reset-1', T2, T0)])
        .when(reset)
        .then([{ type: 'PasswordChanged', data: { ...changedByReset.data, sessionEpoch: 2 } } as UserEvent]);
      spec
        .given([registered, keptS1, resetRequested('reset-1', T2, T0)])
        .when(reset)
        .thenState(registeredState({ account: { ...registeredState().account!, passwordHash: PW2, passwordChangedAt: T1 }, sessionEpoch: 2 }));
    });

    it('refuses a token already used (single use)', () => {
      spec
        .given([registered, resetRequested('reset-1', T2, T0), changedByReset])
        .when({ ...reset, newPasswordHash: argon('third') })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'reset_token_invalid'));
    });

    it('refuses an expired token', () => {
      spec
        .given([registered, resetRequested('reset-1', T2, T0)])
        .when({ ...reset, now: T3 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'reset_token_expired'));
      spec
        .given([registered, resetRequested('reset-1', T2, T0)])
        .when({ ...reset, now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'reset_token_expired'));
    });

    it('refuses a token a newer request superseded', () => {
      spec
        .given([registered, resetRequested('reset-1', T3, T0), resetRequested('reset-2', T3, T0)])
        .when(reset)
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'reset_token_invalid'));
    });

    it('refuses an unknown token, and any token when none was requested', () => {
      spec
        .given([registered, resetRequested('reset-1', T2, T0)])
        .when({ ...reset, resetTokenHash: sha('reset-guess') })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'reset_token_invalid'));
      spec.given([registered]).when(reset).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'reset_token_invalid'));
    });

    it('refuses a token voided by a password change in the profile', () => {
      spec
        .given([
          registered,
          resetRequested('reset-1', T3, T0),
          { type: 'PasswordChanged', data: { userId: U, passwordHash: argon('third'), via: 'profile', keptSession: null, sessionEpoch: 1, changedAt: T0 } },
        ])
        .when(reset)
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'reset_token_invalid'));
    });

    it('refuses an unknown user and a suspended one', () => {
      spec.given([]).when(reset).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([registered, resetRequested('reset-1', T3, T0), suspended])
        .when({ ...reset, now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('refuses a new password in clear', () => {
      spec
        .given([registered, resetRequested('reset-1', T2, T0)])
        .when({ ...reset, newPasswordHash: 'correct horse' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'newPasswordHash');
    });
  });

  describe('ChangePassword', () => {
    const change = { type: 'ChangePassword', userId: U, newPasswordHash: PW2, keepSessionId: 's1', now: T1 } as const;
    const changedInProfile: UserEvent = {
      type: 'PasswordChanged',
      data: { userId: U, passwordHash: PW2, via: 'profile', keptSession: { sessionId: 's1', sinceEpoch: 0 }, sessionEpoch: 1, changedAt: T1 },
    };
    const changed = { ...registeredState().account!, passwordHash: PW2, passwordChangedAt: T1 };

    it('changes the password and revokes the other sessions, keeping the one it came from', () => {
      spec.given([registered]).when(change).then([changedInProfile]);
      spec
        .given([registered])
        .when(change)
        .thenState(registeredState({ account: changed, sessionEpoch: 1, keptSession: { sessionId: 's1', sinceEpoch: 0 } }));
    });

    it('keeps no session when none is named', () => {
      spec
        .given([registered])
        .when({ type: 'ChangePassword', userId: U, newPasswordHash: PW2, now: T1 })
        .then([{ type: 'PasswordChanged', data: { ...changedInProfile.data, keptSession: null } } as UserEvent]);
    });

    it('keeps a session kept again from the epoch its survival started in; another session starts anew', () => {
      const third = argon('third');
      const again = { ...change, newPasswordHash: third, now: T2 };
      spec
        .given([registered, changedInProfile])
        .when(again)
        .then([
          {
            type: 'PasswordChanged',
            data: { userId: U, passwordHash: third, via: 'profile', keptSession: { sessionId: 's1', sinceEpoch: 0 }, sessionEpoch: 2, changedAt: T2 },
          },
        ]);
      spec
        .given([registered, changedInProfile])
        .when(again)
        .thenState(
          registeredState({
            account: { ...changed, passwordHash: third, passwordChangedAt: T2 },
            sessionEpoch: 2,
            keptSession: { sessionId: 's1', sinceEpoch: 0 },
          }),
        );
      spec
        .given([registered, changedInProfile])
        .when({ ...again, keepSessionId: 's2' })
        .thenState(
          registeredState({
            account: { ...changed, passwordHash: third, passwordChangedAt: T2 },
            sessionEpoch: 2,
            keptSession: { sessionId: 's2', sinceEpoch: 1 },
          }),
        );
    });

    it('voids a pending reset token', () => {
      spec
        .given([registered, resetRequested('reset-1', T3, T0)])
        .when(change)
        .thenState(registeredState({ account: changed, sessionEpoch: 1, keptSession: { sessionId: 's1', sinceEpoch: 0 } }));
    });

    it('is a no-op when the hash is already in force', () => {
      spec.given([registered, changedInProfile]).when(change).then([]);
    });

    it('refuses an unknown user and a suspended one', () => {
      spec.given([]).when(change).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered, suspended]).when(change).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('refuses a new password in clear', () => {
      spec
        .given([registered])
        .when({ ...change, newPasswordHash: 'hunter2' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('ChangeRole', () => {
    const promote = { type: 'ChangeRole', userId: U, role: 'admin', now: T1 } as const;
    const promoted: UserEvent = { type: 'RoleChanged', data: { userId: U, role: 'admin', previousRole: 'user', changedAt: T1 } };

    it('changes the role', () => {
      spec.given([registered]).when(promote).then([promoted]);
      spec
        .given([registered])
        .when(promote)
        .thenState(registeredState({ account: { ...registeredState().account!, role: 'admin' } }));
    });

    it('changes the role back', () => {
      spec
        .given([registered, promoted])
        .when({ ...promote, role: 'user', now: T2 })
        .then([{ type: 'RoleChanged', data: { userId: U, role: 'user', previousRole: 'admin', changedAt: T2 } }]);
    });

    it('changes the role of a suspended user', () => {
      spec.given([registered, suspended]).when(promote).then([promoted]);
    });

    it('is a no-op for the same role', () => {
      spec
        .given([registered])
        .when({ ...promote, role: 'user' })
        .then([]);
      spec.given([registered, promoted]).when(promote).then([]);
    });

    it('refuses an unknown user and an unknown role', () => {
      spec.given([]).when(promote).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([registered])
        .when({ ...promote, role: 'owner' as 'admin' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('SuspendUser', () => {
    const suspend = { type: 'SuspendUser', userId: U, reason: 'abuse', now: T1 } as const;

    it('suspends the user and revokes every session (the next epoch, none kept)', () => {
      spec.given([registered]).when(suspend).then([suspended]);
      const keptS1: UserEvent = {
        type: 'PasswordChanged',
        data: { userId: U, passwordHash: PW2, via: 'profile', keptSession: { sessionId: 's1', sinceEpoch: 0 }, sessionEpoch: 1, changedAt: T0 },
      };
      spec
        .given([registered, keptS1])
        .when(suspend)
        .then([{ type: 'UserSuspended', data: { ...suspended.data, sessionEpoch: 2 } } as UserEvent]);
    });

    it('records the suspension', () => {
      spec
        .given([registered])
        .when(suspend)
        .thenState(registeredState({ status: 'suspended', suspension: { reason: 'abuse', suspendedAt: T1 }, sessionEpoch: 1 }));
    });

    it('is a no-op for a user already suspended', () => {
      spec
        .given([registered, suspended])
        .when({ ...suspend, reason: 'again', now: T2 })
        .then([]);
    });

    it('refuses an unknown user and a blank reason', () => {
      spec.given([]).when(suspend).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([registered])
        .when({ ...suspend, reason: ' ' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('ReactivateUser', () => {
    const reactivate = { type: 'ReactivateUser', userId: U, now: T2 } as const;

    it('reactivates a suspended user; the sessions the suspension revoked stay revoked (the epoch stays)', () => {
      spec.given([registered, suspended]).when(reactivate).then([reactivated]);
      spec
        .given([registered, suspended])
        .when(reactivate)
        .thenState(registeredState({ sessionEpoch: 1 }));
    });

    it('is a no-op for a user who is not suspended', () => {
      spec.given([registered]).when(reactivate).then([]);
      spec
        .given([registered, suspended, reactivated])
        .when({ ...reactivate, now: T3 })
        .then([]);
    });

    it('refuses an unknown user', () => {
      spec.given([]).when(reactivate).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });
  });

  describe('a whole life', () => {
    it('folds registration, reset, changes and suspension into one plain-JSON state (snapshots)', () => {
      const history: UserEvent[] = [
        registered,
        resetRequested('reset-1', T3, T2),
        { type: 'PasswordChanged', data: { userId: U, passwordHash: PW2, via: 'reset', keptSession: null, sessionEpoch: 1, changedAt: T3 } },
        {
          type: 'PasswordChanged',
          data: { userId: U, passwordHash: argon('third'), via: 'profile', keptSession: { sessionId: 's7', sinceEpoch: 1 }, sessionEpoch: 2, changedAt: T3 },
        },
        { type: 'RoleChanged', data: { userId: U, role: 'admin', previousRole: 'user', changedAt: T3 } },
      ];
      const state = fold(userDecider, history);
      expect(state.account).to.include({ passwordHash: argon('third'), role: 'admin', passwordChangedAt: T3 });
      expect(state.passwordReset).to.equal(null);
      expect(userStanding(state)).to.deep.equal({ status: 'active', sessionEpoch: 2, keptSession: { sessionId: 's7', sinceEpoch: 1 } });
      expect(JSON.parse(JSON.stringify(state))).to.deep.equal(state);
      const suspendedLater = fold(userDecider, [{ type: 'UserSuspended', data: { ...suspended.data, sessionEpoch: 3 } }], state);
      expect(userStanding(suspendedLater)).to.deep.equal({ status: 'suspended', sessionEpoch: 3, keptSession: null });
    });

    it('decodes its stored events through its codec, and refuses a bad one', () => {
      const stored = { type: 'UserSuspended', data: { userId: U, reason: 'abuse', sessionEpoch: 1, suspendedAt: T1 }, metadata: {} };
      expect(userEvents.decode(stored)).to.deep.equal(suspended);
      expect(() => userEvents.decode({ ...stored, data: { userId: U, reason: 'abuse', suspendedAt: T1 } })).to.throw(/sessionEpoch/);
      expect(() => userEvents.decode({ ...stored, type: 'SessionStarted' })).to.throw(/not an event of this aggregate/);
    });
  });
});
