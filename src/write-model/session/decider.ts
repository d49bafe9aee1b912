import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, optionalText, requireOneOf, requireText } from '../core/validate.js';
import { requireTokenHash } from '../user/hashes.js';
import type { EndSession, RefreshSession, SessionCommand, StartSession, UserStanding } from './commands.js';
import { sessionEvents, type SessionEvent } from './events.js';
import { initialSessionState, isSessionLive, ROTATED_HASHES_KEPT, type Session, type SessionState } from './state.js';

/**
 * The Session aggregate: one login, its rotating refresh token and its end.
 * The user's lifecycle (suspension, password changes) lives in `user-{id}`;
 * the adapters read it and pass it in as `command.user` (UserStanding), and
 * the end-sessions process manager records SessionEnded for every live
 * session a suspension or password change revokes.
 *
 * Rules (see tests/unit/session.spec.test.ts):
 * - StartSession: an unregistered user is NOT_FOUND, a suspended one
 *   PERMISSION_DENIED (details.reason 'user_suspended'). The session records
 *   the user's session epoch. The same id with the same first hash again is
 *   []; another start under a used id is CONFLICT.
 * - A session is *revoked* when its user's epoch has moved past the one it
 *   started in (a password change, reset or suspension since) and it is not
 *   the session the last password change was made from. A revoked session
 *   cannot be refreshed, at once, whether or not the process manager has
 *   recorded its SessionEnded yet.
 * - RefreshSession (rotation with reuse detection). Every refusal is
 *   PERMISSION_DENIED with `details.reason` one of REFRESH_REFUSALS — the
 *   HTTP adapter answers all of them with 401. Checked in this order: no
 *   such session of this user ('session_not_found'), suspended user
 *   ('user_suspended'), ended or revoked session ('session_ended'); the
 *   exact repeat of the last rotation (the hash it retired with the hash it
 *   installed and the same expiry) is [], so a handler retry does not kill
 *   the session; a hash among the last ROTATED_HASHES_KEPT rotated away is
 *   *reuse* (a stolen token): [SessionEnded refresh_token_reuse], recorded
 *   even when the session has meanwhile expired, and the caller answers
 *   401; then an expired session ('session_expired') and any other hash
 *   ('token_mismatch' — also a hash rotated away longer ago than the kept
 *   window: refused, the session goes on).
 * - EndSession: no such session of this user is NOT_FOUND; an ended one is [].
 */

export function sessionStream(sessionId: string): string {
  return `session-${sessionId}`;
}

type Event = SessionEvent;

/** details.reason of a refused RefreshSession (always PERMISSION_DENIED). */
export const REFRESH_REFUSALS = ['session_not_found', 'user_suspended', 'session_ended', 'session_expired', 'token_mismatch'] as const;
export type RefreshRefusal = (typeof REFRESH_REFUSALS)[number];

const END_SESSION_REASONS = ['logout', 'revoked', 'password_changed', 'user_suspended'] as const;

function refuseRefresh(reason: RefreshRefusal, message: string): never {
  throw new DomainError('PERMISSION_DENIED', message, { reason });
}

function requireFuture(ms: number, nowMs: number, field: string): void {
  if (ms <= nowMs) throw new DomainError('VALIDATION_ERROR', `${field} must be after now`, { field });
}

function requireEpoch(user: UserStanding): number {
  const epoch = user?.sessionEpoch;
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new DomainError('VALIDATION_ERROR', 'user.sessionEpoch must be a whole number', { field: 'user.sessionEpoch' });
  return epoch;
}

/** The session of this user, if the stream holds one. */
function ownSession(state: SessionState, userId: string, sessionId: string): Session | undefined {
  const session = state.session;
  return session !== null && session.userId === userId && session.sessionId === sessionId ? session : undefined;
}

/** A password change, reset or suspension since the session started, and not the session the change was made from. */
export function isRevoked(session: Pick<Session, 'sessionId' | 'sessionEpoch'>, user: Pick<UserStanding, 'sessionEpoch' | 'keptSession'>): boolean {
  if (session.sessionEpoch >= user.sessionEpoch) return false;
  const kept = user.keptSession;
  return !(kept !== null && kept.sessionId === session.sessionId && session.sessionEpoch >= kept.sinceEpoch);
}

function startSession(command: StartSession, state: SessionState): Event[] {
  const nowMs = instant(command.now, 'now');
  const userId = requireText(command.userId, 'userId');
  const sessionId = requireText(command.sessionId, 'sessionId');
  const refreshTokenHash = requireTokenHash(command.refreshTokenHash, 'refreshTokenHash');
  const expiresAtMs = instant(command.expiresAt, 'expiresAt');
  const sessionEpoch = requireEpoch(command.user);
  if (command.user.status === 'unregistered') throw new DomainError('NOT_FOUND', 'user not found', { userId });
  if (command.user.status === 'suspended') throw new DomainError('PERMISSION_DENIED', 'the user is suspended', { reason: 'user_suspended' });
  const existing = state.session;
  if (existing !== null) {
    if (existing.userId === userId && existing.firstTokenHash === refreshTokenHash) return [];
    throw new DomainError('CONFLICT', 'the session id is already in use', { sessionId });
  }
  requireFuture(expiresAtMs, nowMs, 'expiresAt');
  return [
    {
      type: 'SessionStarted',
      data: {
        userId,
        sessionId,
        refreshTokenHash,
        expiresAt: command.expiresAt,
        userAgent: optionalText(command.userAgent, 'userAgent'),
        ip: optionalText(command.ip, 'ip'),
        sessionEpoch,
        startedAt: command.now,
      },
    },
  ];
}

function refreshSession(command: RefreshSession, state: SessionState): Event[] {
  const nowMs = instant(command.now, 'now');
  const sessionId = requireText(command.sessionId, 'sessionId');
  const presented = requireTokenHash(command.presentedTokenHash, 'presentedTokenHash');
  const newTokenHash = requireTokenHash(command.newTokenHash, 'newTokenHash');
  const newExpiresAtMs = instant(command.newExpiresAt, 'newExpiresAt');
  requireEpoch(command.user);
  const session = ownSession(state, command.userId, sessionId);
  if (!session || command.user.status === 'unregistered') refuseRefresh('session_not_found', 'no such session');
  if (command.user.status === 'suspended') refuseRefresh('user_suspended', 'the user is suspended');
  if (session.endedAt !== null || isRevoked(session, command.user)) refuseRefresh('session_ended', 'the session has ended');
  if (presented === session.rotatedTokenHashes.at(-1) && newTokenHash === session.refreshTokenHash && command.newExpiresAt === session.expiresAt) {
    return []; // the last rotation, repeated
  }
  if (session.rotatedTokenHashes.includes(presented)) {
    return [{ type: 'SessionEnded', data: { userId: session.userId, sessionId, reason: 'refresh_token_reuse', endedAt: command.now } }];
  }
  if (!isSessionLive(session, nowMs)) refuseRefresh('session_expired', 'the session has expired');
  if (presented !== session.refreshTokenHash) refuseRefresh('token_mismatch', 'the refresh token does not belong to this session');
  if (newTokenHash === session.refreshTokenHash || newTokenHash === session.firstTokenHash || session.rotatedTokenHashes.includes(newTokenHash)) {
    throw new DomainError('VALIDATION_ERROR', 'newTokenHash must be the hash of a fresh token', { field: 'newTokenHash' });
  }
  requireFuture(newExpiresAtMs, nowMs, 'newExpiresAt');
  return [
    {
      type: 'SessionRefreshed',
      data: { userId: session.userId, sessionId, refreshTokenHash: newTokenHash, expiresAt: command.newExpiresAt, refreshedAt: command.now },
    },
  ];
}

function endSession(command: EndSession, state: SessionState): Event[] {
  instant(command.now, 'now');
  const sessionId = requireText(command.sessionId, 'sessionId');
  const reason = requireOneOf(command.reason, END_SESSION_REASONS, 'reason');
  const session = ownSession(state, command.userId, sessionId);
  if (!session) throw new DomainError('NOT_FOUND', 'session not found', { sessionId });
  if (session.endedAt !== null) return [];
  return [{ type: 'SessionEnded', data: { userId: session.userId, sessionId, reason, endedAt: command.now } }];
}

function decide(command: SessionCommand, state: SessionState): Event[] {
  switch (command.type) {
    case 'StartSession':
      return startSession(command, state);
    case 'RefreshSession':
      return refreshSession(command, state);
    case 'EndSession':
      return endSession(command, state);
    default: {
      const unknown: never = command;
      throw new DomainError('VALIDATION_ERROR', 'unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/**
 * O(1) per event, in place (the fold owns its state): the rotated hashes are
 * a window of at most ROTATED_HASHES_KEPT. The decider writes events only
 * after SessionStarted, so the `session === null` guard never applies to a
 * stream it wrote.
 */
function evolve(state: SessionState, event: Event): SessionState {
  if (event.type === 'SessionStarted') {
    const d = event.data;
    state.session = {
      userId: d.userId,
      sessionId: d.sessionId,
      sessionEpoch: d.sessionEpoch,
      firstTokenHash: d.refreshTokenHash,
      refreshTokenHash: d.refreshTokenHash,
      rotatedTokenHashes: [],
      expiresAt: d.expiresAt,
      startedAt: d.startedAt,
      endedAt: null,
      endReason: null,
    };
    return state;
  }
  const session = state.session;
  if (session === null) return state;
  switch (event.type) {
    case 'SessionRefreshed': {
      session.rotatedTokenHashes.push(session.refreshTokenHash);
      if (session.rotatedTokenHashes.length > ROTATED_HASHES_KEPT) session.rotatedTokenHashes.shift();
      session.refreshTokenHash = event.data.refreshTokenHash;
      session.expiresAt = event.data.expiresAt;
      return state;
    }
    case 'SessionEnded':
      session.endedAt = event.data.endedAt;
      session.endReason = event.data.reason;
      return state;
  }
}

export const sessionDecider: Decider<SessionState, SessionCommand, SessionEvent> = { initialState: initialSessionState, decide, evolve };

/**
 * Stream `session-{sessionId}`. Short-lived as a rule, but the expiry slides
 * with every refresh, so a client that stays active keeps one stream going
 * (a refresh per access-token lifetime): snapshots keep its load short.
 */
export const sessionAggregate: Aggregate<SessionState, SessionCommand, SessionEvent> = {
  name: 'session',
  streamName: sessionStream,
  decider: sessionDecider,
  events: sessionEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.busy },
};
