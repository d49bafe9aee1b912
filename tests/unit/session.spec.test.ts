import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { toPlain } from '../../src/operations/streams.js';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  initialSessionState,
  isRevoked,
  ROTATED_HASHES_KEPT,
  sessionAggregate,
  sessionDecider,
  sessionEvents,
  sessionStream,
  type SessionEndReason,
  type SessionEvent,
  type UserStanding,
} from '../../src/write-model/session/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(sessionDecider);

const sha = (name: string) => createHash('sha256').update(name).digest('hex');

const U = 'u-1';
const T0 = '2025-03-01T08:00:00.000Z';
const T1 = '2025-03-01T09:00:00.000Z';
const T2 = '2025-03-01T10:00:00.000Z';
const T3 = '2025-03-01T11:00:00.000Z';
const LATER = '2025-03-08T08:00:00.000Z';
const MUCH_LATER = '2025-03-15T08:00:00.000Z';

const active: UserStanding = { status: 'active', sessionEpoch: 0, keptSession: null };
const suspendedUser: UserStanding = { status: 'suspended', sessionEpoch: 1, keptSession: null };

function started(sessionId: string, token: string, expiresAt = LATER, at = T0, sessionEpoch = 0): SessionEvent {
  return {
    type: 'SessionStarted',
    data: { userId: U, sessionId, refreshTokenHash: sha(token), expiresAt, userAgent: 'Mozilla/5.0', ip: '10.0.0.1', sessionEpoch, startedAt: at },
  };
}

function refreshed(token: string, expiresAt = LATER, at = T1, sessionId = 's1'): SessionEvent {
  return { type: 'SessionRefreshed', data: { userId: U, sessionId, refreshTokenHash: sha(token), expiresAt, refreshedAt: at } };
}

function ended(reason: SessionEndReason, at = T1, sessionId = 's1'): SessionEvent {
  return { type: 'SessionEnded', data: { userId: U, sessionId, reason, endedAt: at } };
}

const code =
  (expected: string, reason?: string) =>
  (e: DomainError): boolean =>
    e.code === expected && (reason === undefined || e.details.reason === reason);

describe('Session aggregate', () => {
  it('names its stream session-{id}, is snapshotted (a sliding expiry lets an active client keep it going)', () => {
    expect(sessionStream('abc')).to.equal('session-abc');
    expect(sessionAggregate.streamName('abc')).to.equal('session-abc');
    expect(sessionAggregate.snapshot).to.deep.equal({ version: 1, every: 50 });
    expect(sessionDecider.initialState()).to.deep.equal(initialSessionState());
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
      user: active,
      now: T0,
    } as const;

    it('starts a session in the user’s epoch', () => {
      spec
        .given([])
        .when(start)
        .then([started('s1', 'rt-1')]);
      spec
        .given([])
        .when({ ...start, user: { status: 'active', sessionEpoch: 3, keptSession: null } })
        .then([started('s1', 'rt-1', LATER, T0, 3)]);
    });

    it('records a missing user agent and ip as null', () => {
      spec
        .given([])
        .when({ type: 'StartSession', userId: U, sessionId: 's1', refreshTokenHash: sha('rt-1'), expiresAt: LATER, user: active, now: T0 })
        .then([{ type: 'SessionStarted', data: { ...started('s1', 'rt-1').data, userAgent: null, ip: null } } as SessionEvent]);
    });

    it('keeps what decisions need in the state', () => {
      spec
        .given([])
        .when(start)
        .thenState({
          session: {
            userId: U,
            sessionId: 's1',
            sessionEpoch: 0,
            firstTokenHash: sha('rt-1'),
            refreshTokenHash: sha('rt-1'),
            rotatedTokenHashes: [],
            expiresAt: LATER,
            startedAt: T0,
            endedAt: null,
            endReason: null,
          },
        });
    });

    it('is a no-op when repeated with the same id and first hash, even after a refresh', () => {
      spec
        .given([started('s1', 'rt-1')])
        .when(start)
        .then([]);
      spec
        .given([started('s1', 'rt-1'), refreshed('rt-2')])
        .when(start)
        .then([]);
    });

    it('refuses a session id already in use with another hash or by another user', () => {
      spec
        .given([started('s1', 'rt-1')])
        .when({ ...start, refreshTokenHash: sha('rt-9') })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([started('s1', 'rt-1')])
        .when({ ...start, userId: 'u-2' })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses an unknown user and a suspended one', () => {
      spec
        .given([])
        .when({ ...start, user: { status: 'unregistered', sessionEpoch: 0, keptSession: null } })
        .thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([])
        .when({ ...start, user: suspendedUser })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('refuses an expiry that is not in the future, a token in clear and a bad epoch', () => {
      spec
        .given([])
        .when({ ...start, expiresAt: T0 })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...start, refreshTokenHash: 'opaque-token-in-clear' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'refreshTokenHash');
      spec
        .given([])
        .when({ ...start, user: { status: 'active', sessionEpoch: -1, keptSession: null } })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
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
      user: active,
      now: T1,
    } as const;
    const live = [started('s1', 'rt-1')];

    it('rotates the refresh token', () => {
      spec
        .given(live)
        .when(refresh)
        .then([refreshed('rt-2')]);
    });

    it('retires the presented hash and extends the expiry', () => {
      spec
        .given(live)
        .when({ ...refresh, newExpiresAt: MUCH_LATER })
        .thenState({
          session: {
            userId: U,
            sessionId: 's1',
            sessionEpoch: 0,
            firstTokenHash: sha('rt-1'),
            refreshTokenHash: sha('rt-2'),
            rotatedTokenHashes: [sha('rt-1')],
            expiresAt: MUCH_LATER,
            startedAt: T0,
            endedAt: null,
            endReason: null,
          },
        });
    });

    it('rotates again with the newest token', () => {
      spec
        .given([...live, refreshed('rt-2')])
        .when({ ...refresh, presentedTokenHash: sha('rt-2'), newTokenHash: sha('rt-3'), now: T2 })
        .then([refreshed('rt-3', LATER, T2)]);
    });

    it('ends the session when a rotated-away token is presented again (reuse)', () => {
      spec
        .given([...live, refreshed('rt-2')])
        .when({ ...refresh, newTokenHash: sha('rt-x'), now: T2 })
        .then([ended('refresh_token_reuse', T2)]);
    });

    it('detects reuse of any of the last rotated tokens', () => {
      spec
        .given([...live, refreshed('rt-2'), refreshed('rt-3', LATER, T2)])
        .when({ ...refresh, presentedTokenHash: sha('rt-2'), newTokenHash: sha('rt-x'), now: T3 })
        .then([ended('refresh_token_reuse', T3)]);
    });

    it(`keeps only the last ${ROTATED_HASHES_KEPT} rotated hashes: an older token is a mismatch and the session goes on`, () => {
      const history: SessionEvent[] = [started('s1', 'rt-0')];
      for (let i = 1; i <= ROTATED_HASHES_KEPT + 1; i++) history.push(refreshed(`rt-${i}`));
      const state = fold(sessionDecider, history);
      expect(state.session?.rotatedTokenHashes).to.have.length(ROTATED_HASHES_KEPT);
      expect(state.session?.rotatedTokenHashes[0]).to.equal(sha('rt-1'));
      spec
        .given(history)
        .when({ ...refresh, presentedTokenHash: sha('rt-0'), newTokenHash: sha('rt-x'), now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'token_mismatch'));
      spec
        .given(history)
        .when({ ...refresh, presentedTokenHash: sha('rt-1'), newTokenHash: sha('rt-x'), now: T2 })
        .then([ended('refresh_token_reuse', T2)]);
    });

    it('records reuse even when the session has expired meanwhile', () => {
      spec
        .given([...live, refreshed('rt-2', T2)])
        .when({ ...refresh, newTokenHash: sha('rt-x'), now: T3 })
        .then([ended('refresh_token_reuse', T3)]);
    });

    it('refuses the current token once reuse has ended the session', () => {
      spec
        .given([...live, refreshed('rt-2'), ended('refresh_token_reuse', T2)])
        .when({ ...refresh, presentedTokenHash: sha('rt-2'), newTokenHash: sha('rt-3'), now: T3 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_ended'));
    });

    it('is a no-op when the last rotation is repeated exactly', () => {
      spec
        .given([...live, refreshed('rt-2')])
        .when({ ...refresh, now: T2 })
        .then([]);
    });

    it('refuses an expired session, with no events', () => {
      spec
        .given([started('s1', 'rt-1', T1)])
        .when({ ...refresh, now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_expired'));
      spec
        .given([started('s1', 'rt-1', T1)])
        .when(refresh) // now == expiresAt: expired
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_expired'));
    });

    it('refuses an ended session', () => {
      spec
        .given([...live, ended('logout')])
        .when({ ...refresh, now: T2 })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_ended'));
    });

    it('refuses an unknown session, another user’s session and an unknown user', () => {
      spec.given([]).when(refresh).thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_not_found'));
      spec
        .given(live)
        .when({ ...refresh, userId: 'u-2' })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_not_found'));
      spec
        .given(live)
        .when({ ...refresh, user: { status: 'unregistered', sessionEpoch: 0, keptSession: null } })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_not_found'));
    });

    it('refuses a hash the session never had', () => {
      spec
        .given(live)
        .when({ ...refresh, presentedTokenHash: sha('rt-guess') })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'token_mismatch'));
    });

    it('refuses a suspended user at once, before the process manager has ended the session', () => {
      spec
        .given(live)
        .when({ ...refresh, user: suspendedUser })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'user_suspended'));
    });

    it('refuses a session a password change or a suspension revoked, at once (a later epoch)', () => {
      const revokedByChange: UserStanding = { status: 'active', sessionEpoch: 1, keptSession: { sessionId: 's2', sinceEpoch: 0 } };
      spec
        .given(live)
        .when({ ...refresh, user: revokedByChange })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_ended'));
      const reactivatedAfterSuspension: UserStanding = { status: 'active', sessionEpoch: 1, keptSession: null };
      spec
        .given(live)
        .when({ ...refresh, user: reactivatedAfterSuspension })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_ended'));
    });

    it('lets the session a password change came from go on, also through later changes from it', () => {
      spec
        .given(live)
        .when({ ...refresh, user: { status: 'active', sessionEpoch: 1, keptSession: { sessionId: 's1', sinceEpoch: 0 } } })
        .then([refreshed('rt-2')]);
      spec
        .given(live)
        .when({ ...refresh, user: { status: 'active', sessionEpoch: 3, keptSession: { sessionId: 's1', sinceEpoch: 0 } } })
        .then([refreshed('rt-2')]);
      // kept only from epoch 1 on: it had been revoked before (a suspension), keeping it later does not revive it
      spec
        .given(live)
        .when({ ...refresh, user: { status: 'active', sessionEpoch: 2, keptSession: { sessionId: 's1', sinceEpoch: 1 } } })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED', 'session_ended'));
    });

    it('lets a session started after the revocation go on', () => {
      spec
        .given([started('s1', 'rt-1', LATER, T0, 2)])
        .when({ ...refresh, user: { status: 'active', sessionEpoch: 2, keptSession: null } })
        .then([refreshed('rt-2')]);
      expect(isRevoked({ sessionId: 's1', sessionEpoch: 2 }, { sessionEpoch: 2, keptSession: null })).to.equal(false);
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
    const live = [started('s1', 'rt-1')];

    it('ends the session on logout, revocation, password change and suspension', () => {
      spec
        .given(live)
        .when(end)
        .then([ended('logout')]);
      spec
        .given(live)
        .when({ ...end, reason: 'revoked' })
        .then([ended('revoked')]);
      spec
        .given(live)
        .when({ ...end, reason: 'password_changed' })
        .then([ended('password_changed')]);
      spec
        .given(live)
        .when({ ...end, reason: 'user_suspended' })
        .then([ended('user_suspended')]);
    });

    it('records the end in the state', () => {
      const state = fold(sessionDecider, [...live, ended('revoked')]);
      expect(state.session).to.include({ endedAt: T1, endReason: 'revoked' });
    });

    it('ends an expired session that was never ended', () => {
      spec
        .given([started('s1', 'rt-1', T1)])
        .when({ ...end, now: T2 })
        .then([ended('logout', T2)]);
    });

    it('is a no-op for a session already ended, whatever ended it', () => {
      spec
        .given([...live, ended('logout')])
        .when({ ...end, now: T2 })
        .then([]);
      spec
        .given([...live, ended('refresh_token_reuse')])
        .when({ ...end, reason: 'revoked', now: T2 })
        .then([]);
      spec
        .given([...live, ended('user_suspended')])
        .when({ ...end, reason: 'password_changed', now: T2 })
        .then([]);
    });

    it('refuses an unknown session and another user’s session', () => {
      spec.given([]).when(end).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given(live)
        .when({ ...end, userId: 'u-2' })
        .thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses a reason the aggregate keeps for itself', () => {
      spec
        .given(live)
        .when({ ...end, reason: 'refresh_token_reuse' as 'logout' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('decoding', () => {
    it('decodes its stored events, and refuses a bad one', () => {
      const stored = { type: 'SessionEnded', data: ended('logout').data, metadata: {} };
      expect(sessionEvents.decode(stored)).to.deep.equal(ended('logout'));
      expect(() => sessionEvents.decode({ ...stored, data: { ...stored.data, reason: 'bored' } })).to.throw(/reason/);
      expect(() => sessionEvents.decode({ ...stored, type: 'UserRegistered' })).to.throw(/not an event of this aggregate/);
    });

    it('folds to plain JSON (snapshots)', () => {
      const state = fold(sessionDecider, [started('s1', 'rt-1'), refreshed('rt-2'), ended('logout', T2)]);
      expect(JSON.parse(JSON.stringify(state))).to.deep.equal(state);
    });

    it('shows no token hash where operators read the state (CLI, console)', () => {
      const state = fold(sessionDecider, [started('s1', 'rt-1'), refreshed('rt-2')]);
      const shown = JSON.stringify(toPlain(state));
      for (const token of ['rt-1', 'rt-2']) expect(shown).not.to.include(sha(token));
    });
  });
});
