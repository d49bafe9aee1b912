import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { fold } from '../../src/write-model/core/decider.js';
import {
  initialState,
  userDecider,
  userStream,
  type UserEvent,
  type UserSession,
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
const LATER = '2025-03-08T08:00:00.000Z';
const MUCH_LATER = '2025-03-15T08:00:00.000Z';

const registered: UserEvent = {
  type: 'UserRegistered',
  data: { userId: U, email: EMAIL, passwordHash: PW1, displayName: 'Alice', role: 'user', registeredAt: T0 },
};

function started(sessionId: string, token: string, expiresAt = LATER, at = T0): UserEvent {
  return {
    type: 'SessionStarted',
    data: { userId: U, sessionId, refreshTokenHash: sha(token), expiresAt, userAgent: 'Mozilla/5.0', ip: '10.0.0.1', startedAt: at },
  };
}

function refreshed(sessionId: string, token: string, expiresAt = LATER, at = T1): UserEvent {
  return { type: 'SessionRefreshed', data: { userId: U, sessionId, refreshTokenHash: sha(token), expiresAt, refreshedAt: at } };
}

function ended(sessionId: string, reason: 'logout' | 'revoked' | 'password_changed' | 'refresh_token_reuse' | 'user_suspended', at = T1): UserEvent {
  return { type: 'SessionEnded', data: { userId: U, sessionId, reason, endedAt: at } };
}

const suspended: UserEvent = { type: 'UserSuspended', data: { userId: U, reason: 'abuse', suspendedAt: T1 } };
const reactivated: UserEvent = { type: 'UserReactivated', data: { userId: U, reactivatedAt: T2 } };

function resetRequested(token: string, expiresAt = T2, at = T1): UserEvent {
  return { type: 'PasswordResetRequested', data: { userId: U, resetTokenHash: sha(token), expiresAt, requestedAt: at } };
}

const code =
  (expected: string, reason?: string) =>
  (e: DomainError): boolean =>
    e.code === expected && (reason === undefined || e.details.reason === reason);

function session(overrides: Partial<UserSession> & Pick<UserSession, 'sessionId' | 'refreshTokenHash'>): UserSession {
  return {
    rotatedTokenHashes: [],
    expiresAt: LATER,
    startedAt: T0,
    lastRefreshedAt: null,
    userAgent: 'Mozilla/5.0',
    ip: '10.0.0.1',
    endedAt: null,
    endReason: null,
    ...overrides,
  };
}

function registeredState(overrides: Partial<UserState> = {}): UserState {
  return {
    status: 'active',
    account: {
      userId: U,
      email: EMAIL,
      passwordHash: PW1,
      role: 'user',
      profile: { displayName: 'Alice', avatarUrl: null, timezone: null },
      registeredAt: T0,
      passwordChangedAt: null,
    },
    suspension: null,
    sessions: {},
    passwordReset: null,
    ...overrides,
  };
}

describe('User aggregate', () => {
  it('names its stream user-{id}', () => {
    expect(userStream('abc')).to.equal('user-abc');
  });

  it('starts unregistered', () => {
    expect(userDecider.initialState()).to.deep.equal(initialState());
    expect(initialState()).to.deep.equal({ status: 'unregistered', account: null, suspension: null, sessions: {}, passwordReset: null });
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

    it('leaves an active user with the registered account and no sessions', () => {
      spec.given([]).when(register).thenState(registeredState());
    });

    it('is a no-op when repeated with the same email and password hash', () => {
      spec.given([registered]).when(register).then([]);
      spec.given([registered]).when({ ...register, displayName: 'Other', now: T1 }).then([]);
    });

    it('refuses an existing user with another password hash', () => {
      spec.given([registered]).when({ ...register, passwordHash: PW2 }).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses an existing user with another email', () => {
      spec.given([registered]).when({ ...register, email: 'bob@example.com' }).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses an email that is not normalised', () => {
      spec
        .given([])
        .when({ ...register, email: ' Alice@Example.com' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'email');
      spec.given([]).when({ ...register, email: 'alice' }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
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
      spec.given([]).when({ ...register, displayName: '  ' }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec.given([]).when({ ...register, now: 'yesterday' }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
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
            account: { ...registeredState().account!, profile: { displayName: 'Alice W.', avatarUrl: null, timezone: 'Asia/Shanghai' } },
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
      spec.given([registered]).when({ ...update, displayName: 'Alice', avatarUrl: null, timezone: null }).then([]);
      spec.given([registered]).when(update).then([]);
    });

    it('refuses an unknown user', () => {
      spec.given([]).when({ ...update, displayName: 'X' }).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
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
      spec.given([registered]).when({ ...update, displayName: '' }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('StartSession', () => {
    const start = {
      type: 'StartSession',
      userId: U,
      sessionId: 's1',
      refreshTokenHash: sha('rt-1'),
      expiresAt: LATER,
      userAgent: 'Mozilla/5.0',
      ip: '10.0.0.1',
      now: T0,
    } as const;

    it('starts a session', () => {
      spec.given([registered]).when(start).then([started('s1', 'rt-1')]);
    });

    it('records a missing user agent and ip as null', () => {
      spec
        .given([registered])
        .when({ type: 'StartSession', userId: U, sessionId: 's1', refreshTokenHash: sha('rt-1'), expiresAt: LATER, now: T0 })
        .then([{ type: 'SessionStarted', data: { ...started('s1', 'rt-1').data, userAgent: null, ip: null } } as UserEvent]);
    });

    it('keeps the session in the state', () => {
      spec
        .given([registered])
        .when(start)
        .thenState(registeredState({ sessions: { s1: session({ sessionId: 's1', refreshTokenHash: sha('rt-1') }) } }));
    });

    it('is a no-op when repeated with the same id and hash, even after a refresh', () => {
      spec.given([registered, started('s1', 'rt-1')]).when(start).then([]);
      spec.given([registered, started('s1', 'rt-1'), refreshed('s1', 'rt-2')]).when(start).then([]);
    });

    it('refuses a session id already in use with another hash', () => {
      spec
        .given([registered, started('s1', 'rt-1')])
        .when({ ...start, refreshTokenHash: sha('rt-9') })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('takes a session id that is only a name on Object.prototype for a new one', () => {
      spec
        .given([registered])
        .when({ ...start, sessionId: 'constructor' })
        .then([{ type: 'SessionStarted', data: { ...started('constructor', 'rt-1').data } } as UserEvent]);
    });

    it('refuses an unknown user', () => {
      spec.given([]).when(start).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses a suspended user', () => {
      spec.given([registered, suspended]).when({ ...start, now: T2 }).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('accepts a reactivated user', () => {
      spec
        .given([registered, suspended, reactivated])
        .when({ ...start, now: T3 })
        .then([started('s1', 'rt-1', LATER, T3)]);
    });

    it('refuses an expiry that is not in the future and a token in clear', () => {
      spec.given([registered]).when({ ...start, expiresAt: T0 }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([registered])
        .when({ ...start, refreshTokenHash: 'opaque-token-in-clear' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'refreshTokenHash');
    });
  });

  describe('RefreshSession', () => {
    const refresh = {
      type: 'RefreshSession',
      userId: U,
      sessionId: 's1',
      presentedTokenHash: sha('rt-1'),
      newTokenHash: sha('rt-2'),
      newExpiresAt: LATER,
      now: T1,
    } as const;
    const live = [registered, started('s1', 'rt-1')];

    it('rotates the refresh token', () => {
      spec.given(live).when(refresh).then([refreshed('s1', 'rt-2')]);
    });

    it('retires the presented hash and extends the expiry', () => {
      spec
        .given(live)
        .when({ ...refresh, newExpiresAt: MUCH_LATER })
        .thenState(
          registeredState({
            sessions: {
              s1: session({
                sessionId: 's1',
                refreshTokenHash: sha('rt-2'),
                rotatedTokenHashes: [sha('rt-1')],
                expiresAt: MUCH_LATER,
                lastRefreshedAt: T1,
              }),
            },
          }),
        );
    });

    it('rotates again with the newest token', () => {
      spec
        .given([...live, refreshed('s1', 'rt-2')])
        .when({ ...refresh, presentedTokenHash: sha('rt-2'), newTokenHash: sha('rt-3'), now: T2 })
        .then([refreshed('s1', 'rt-3', LATER, T2)]);
    });

    it('ends the session when a rotated-away token is presented again (reuse)', () => {
      spec
        .given([...live, refreshed('s1', 'rt-2')])
        .when({ ...refresh, newTokenHash: sha('rt-x'), now: T2 })
        .then([ended('s1', 'refresh_token_reuse', T2)]);
    });

    it('detects reuse of any earlier token of the session', () => {
      spec
        .given([...live, refreshed('s1', 'rt-2'), refreshed('s1', 'rt-3', LATER, T2)])
        .when({ ...refresh, presentedTokenHash: sha('rt-2'), newTokenHash: sha('rt-x'), now: T3 })
        .then([ended('s1', 'refresh_token_reuse', T3)]);
    });

    it('records reuse even when the session has expired meanwhile', () => {
      spec
        .given([...live, refreshed('s1', 'rt-2', T2)])
        .when({ ...refresh, newTokenHash: sha('rt-x'), now: T3 })
        .then([ended('s1', 'refresh_token_reuse', T3)]);
    });

    it('refuses the current token once reuse has ended the session', () => {
      spec
        .given([...live, refreshed('s1', 'rt-2'), ended('s1', 'refresh_token_reuse', T2)])
        .when({ ...refresh, presentedTokenHash: sha('rt-2'), newTokenHash: sha('rt-3'), now: T3 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_ended'));
    });

    it('is a no-op when the last rotation is repeated exactly', () => {
      spec.given([...live, refreshed('s1', 'rt-2')]).when({ ...refresh, now: T2 }).then([]);
    });

    it('refuses an expired session, with no events', () => {
      spec
        .given([registered, started('s1', 'rt-1', T1)])
        .when({ ...refresh, now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_expired'));
      spec
        .given([registered, started('s1', 'rt-1', T1)])
        .when(refresh) // now == expiresAt: expired
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_expired'));
    });

    it('refuses an ended session', () => {
      spec
        .given([...live, ended('s1', 'logout')])
        .when({ ...refresh, now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_ended'));
    });

    it('refuses an unknown session and an unknown user', () => {
      spec.given(live).when({ ...refresh, sessionId: 's9' }).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_not_found'));
      spec.given([]).when(refresh).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_not_found'));
    });

    it('refuses a hash the session never had, and one of another session', () => {
      spec
        .given(live)
        .when({ ...refresh, presentedTokenHash: sha('rt-guess') })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'token_mismatch'));
      spec
        .given([...live, started('s2', 'rt-other')])
        .when({ ...refresh, presentedTokenHash: sha('rt-other') })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'token_mismatch'));
    });

    it('refuses a suspended user', () => {
      spec
        .given([...live, suspended, ended('s1', 'user_suspended')])
        .when({ ...refresh, now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('refuses a new hash that is not fresh and a new expiry that is not in the future', () => {
      spec
        .given(live)
        .when({ ...refresh, newTokenHash: sha('rt-1') })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'newTokenHash');
      spec
        .given(live)
        .when({ ...refresh, newExpiresAt: T1 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'newExpiresAt');
    });

    it('refuses a token in clear', () => {
      spec
        .given(live)
        .when({ ...refresh, presentedTokenHash: 'rt-1' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('EndSession', () => {
    const end = { type: 'EndSession', userId: U, sessionId: 's1', reason: 'logout', now: T1 } as const;
    const live = [registered, started('s1', 'rt-1'), started('s2', 'rt-2')];

    it('ends the session on logout', () => {
      spec.given(live).when(end).then([ended('s1', 'logout')]);
    });

    it('ends the session when revoked, leaving the others', () => {
      spec.given(live).when({ ...end, sessionId: 's2', reason: 'revoked' }).then([ended('s2', 'revoked')]);
      spec
        .given(live)
        .when({ ...end, reason: 'revoked' })
        .thenState(
          registeredState({
            sessions: {
              s1: session({ sessionId: 's1', refreshTokenHash: sha('rt-1'), endedAt: T1, endReason: 'revoked' }),
              s2: session({ sessionId: 's2', refreshTokenHash: sha('rt-2') }),
            },
          }),
        );
    });

    it('ends an expired session that was never ended', () => {
      spec
        .given([registered, started('s1', 'rt-1', T1)])
        .when({ ...end, now: T2 })
        .then([ended('s1', 'logout', T2)]);
    });

    it('is a no-op for a session already ended, whatever ended it', () => {
      spec.given([...live, ended('s1', 'logout')]).when({ ...end, now: T2 }).then([]);
      spec.given([...live, ended('s1', 'refresh_token_reuse')]).when({ ...end, reason: 'revoked', now: T2 }).then([]);
      spec.given([...live, suspended, ended('s1', 'user_suspended')]).when({ ...end, now: T2 }).then([]);
    });

    it('refuses an unknown session and an unknown user', () => {
      spec.given(live).when({ ...end, sessionId: 's9' }).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([]).when(end).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses a reason the aggregate keeps for itself', () => {
      spec
        .given(live)
        .when({ ...end, reason: 'refresh_token_reuse' as 'logout' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('RequestPasswordReset', () => {
    const request = { type: 'RequestPasswordReset', userId: U, resetTokenHash: sha('reset-1'), expiresAt: T2, now: T1 } as const;

    it('records the request', () => {
      spec.given([registered]).when(request).then([resetRequested('reset-1')]);
      spec
        .given([registered])
        .when(request)
        .thenState(registeredState({ passwordReset: { resetTokenHash: sha('reset-1'), expiresAt: T2, requestedAt: T1 } }));
    });

    it('is a no-op when repeated with the pending token', () => {
      spec.given([registered, resetRequested('reset-1')]).when(request).then([]);
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
      spec.given([registered]).when({ ...request, expiresAt: T0 }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec.given([registered]).when({ ...request, resetTokenHash: 'reset-1' }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('ResetPassword', () => {
    const reset = { type: 'ResetPassword', userId: U, resetTokenHash: sha('reset-1'), newPasswordHash: PW2, now: T1 } as const;
    const changedByReset: UserEvent = { type: 'PasswordChanged', data: { userId: U, passwordHash: PW2, via: 'reset', changedAt: T1 } };

    it('changes the password and ends every active session', () => {
      spec
        .given([
          registered,
          started('s1', 'rt-1'),
          started('s2', 'rt-2'),
          started('s3', 'rt-3', T1), // expired at T1: no event
          started('s4', 'rt-4'),
          ended('s4', 'logout', T0), // already ended: no event
          resetRequested('reset-1', T2, T0),
        ])
        .when(reset)
        .then([changedByReset, ended('s1', 'password_changed'), ended('s2', 'password_changed')]);
    });

    it('changes the password alone when no session is active', () => {
      spec.given([registered, resetRequested('reset-1', T2, T0)]).when(reset).then([changedByReset]);
    });

    it('installs the new hash and uses the token up', () => {
      spec
        .given([registered, resetRequested('reset-1', T2, T0)])
        .when(reset)
        .thenState(registeredState({ account: { ...registeredState().account!, passwordHash: PW2, passwordChangedAt: T1 } }));
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
          { type: 'PasswordChanged', data: { userId: U, passwordHash: argon('third'), via: 'profile', changedAt: T0 } },
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
    const changedInProfile: UserEvent = { type: 'PasswordChanged', data: { userId: U, passwordHash: PW2, via: 'profile', changedAt: T1 } };
    const live = [registered, started('s1', 'rt-1'), started('s2', 'rt-2'), started('s3', 'rt-3')];

    it('changes the password and ends the other active sessions', () => {
      spec.given(live).when(change).then([changedInProfile, ended('s2', 'password_changed'), ended('s3', 'password_changed')]);
    });

    it('ends every active session when no session is kept, or the kept one is unknown', () => {
      const all = [changedInProfile, ended('s1', 'password_changed'), ended('s2', 'password_changed'), ended('s3', 'password_changed')];
      spec.given(live).when({ type: 'ChangePassword', userId: U, newPasswordHash: PW2, now: T1 }).then(all);
      spec.given(live).when({ ...change, keepSessionId: 's9' }).then(all);
    });

    it('voids a pending reset token', () => {
      spec
        .given([registered, resetRequested('reset-1', T3, T0)])
        .when(change)
        .thenState(registeredState({ account: { ...registeredState().account!, passwordHash: PW2, passwordChangedAt: T1 } }));
    });

    it('is a no-op when the hash is already in force', () => {
      spec.given([...live, changedInProfile]).when(change).then([]);
    });

    it('refuses an unknown user and a suspended one', () => {
      spec.given([]).when(change).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered, suspended]).when(change).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('refuses a new password in clear', () => {
      spec.given([registered]).when({ ...change, newPasswordHash: 'hunter2' }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
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
      spec.given([registered]).when({ ...promote, role: 'user' }).then([]);
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

    it('suspends the user and ends every active session', () => {
      spec
        .given([
          registered,
          started('s1', 'rt-1'),
          started('s2', 'rt-2', T1), // expired: no event
          started('s3', 'rt-3'),
          ended('s3', 'logout', T0), // ended: no event
          started('s4', 'rt-4'),
        ])
        .when(suspend)
        .then([suspended, ended('s1', 'user_suspended'), ended('s4', 'user_suspended')]);
    });

    it('records the suspension', () => {
      spec.given([registered]).when(suspend).then([suspended]);
      spec
        .given([registered, started('s1', 'rt-1')])
        .when(suspend)
        .thenState(
          registeredState({
            status: 'suspended',
            suspension: { reason: 'abuse', suspendedAt: T1 },
            sessions: { s1: session({ sessionId: 's1', refreshTokenHash: sha('rt-1'), endedAt: T1, endReason: 'user_suspended' }) },
          }),
        );
    });

    it('is a no-op for a user already suspended', () => {
      spec.given([registered, suspended]).when({ ...suspend, reason: 'again', now: T2 }).then([]);
    });

    it('refuses an unknown user and a blank reason', () => {
      spec.given([]).when(suspend).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered]).when({ ...suspend, reason: ' ' }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('ReactivateUser', () => {
    const reactivate = { type: 'ReactivateUser', userId: U, now: T2 } as const;

    it('reactivates a suspended user', () => {
      spec.given([registered, suspended]).when(reactivate).then([reactivated]);
      spec.given([registered, suspended]).when(reactivate).thenState(registeredState());
    });

    it('leaves ended sessions ended', () => {
      spec
        .given([registered, started('s1', 'rt-1'), suspended, ended('s1', 'user_suspended')])
        .when(reactivate)
        .thenState(
          registeredState({
            sessions: { s1: session({ sessionId: 's1', refreshTokenHash: sha('rt-1'), endedAt: T1, endReason: 'user_suspended' }) },
          }),
        );
    });

    it('is a no-op for a user who is not suspended', () => {
      spec.given([registered]).when(reactivate).then([]);
      spec.given([registered, suspended, reactivated]).when({ ...reactivate, now: T3 }).then([]);
    });

    it('refuses an unknown user', () => {
      spec.given([]).when(reactivate).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });
  });

  describe('a whole life', () => {
    it('folds registration, sessions, reuse, reset and suspension into one state', () => {
      const history: UserEvent[] = [
        registered,
        started('s1', 'rt-1'),
        refreshed('s1', 'rt-2'),
        ended('s1', 'refresh_token_reuse', T2),
        started('s2', 'rt-a', LATER, T2),
        resetRequested('reset-1', T3, T2),
        { type: 'PasswordChanged', data: { userId: U, passwordHash: PW2, via: 'reset', changedAt: T3 } },
        ended('s2', 'password_changed', T3),
      ];
      const state = fold(userDecider, history);
      expect(state.account?.passwordHash).to.equal(PW2);
      expect(state.passwordReset).to.equal(null);
      expect(state.sessions.s1).to.include({ endReason: 'refresh_token_reuse', refreshTokenHash: sha('rt-2') });
      expect(state.sessions.s1?.rotatedTokenHashes).to.deep.equal([sha('rt-1')]);
      expect(state.sessions.s2).to.include({ endReason: 'password_changed', endedAt: T3 });
    });
  });
});
