import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, requireText, optionalText, requireOneOf } from '../core/validate.js';
import type {
  ChangePassword,
  ChangeRole,
  EndSession,
  RefreshSession,
  RegisterUser,
  ReactivateUser,
  RequestPasswordReset,
  ResetPassword,
  StartSession,
  SuspendUser,
  UpdateProfile,
  UserCommand,
} from './commands.js';
import { USER_ROLES, type ProfileUpdatedData, type SessionEndReason, type UserEvent } from './events.js';
import { activeSessions, findSession, initialState, isSessionActive, type UserAccount, type UserSession, type UserState } from './state.js';

/**
 * The User aggregate: an account, its profile, role and status, its login
 * sessions (each with a rotating refresh token) and its password resets.
 *
 * Rules the decisions follow (see also tests/unit/user.spec.test.ts):
 * - An unknown user is NOT_FOUND; a suspended one is PERMISSION_DENIED
 *   (details.reason 'user_suspended') for everything a user does for
 *   themselves (profile, login, refresh, password reset and change). Ending a
 *   session, changing the role, suspending and reactivating stay possible.
 * - Refresh (rotation with reuse detection). Every refusal is
 *   PERMISSION_DENIED with `details.reason` one of REFRESH_REFUSALS — the
 *   HTTP adapter answers all of them with 401 UNAUTHENTICATED and does not
 *   show the reason; it is there for logs and tests. Checked in this order:
 *   unknown user or session ('session_not_found'), suspended user
 *   ('user_suspended'), ended session ('session_ended'); then a hash the
 *   session has already rotated away is *reuse* (a stolen token): the
 *   decision is [SessionEnded refresh_token_reuse] — recorded even when the
 *   session has meanwhile expired — and the caller answers 401; then an
 *   expired session ('session_expired') and a hash that is not the current
 *   one ('token_mismatch'). The exact repeat of the last rotation (the hash
 *   it retired presented again with the new hash it installed and the same
 *   expiry) is [], so a handler retry does not kill the session.
 * - A session is active when it has not ended and `now < expiresAt`.
 *   Suspension and password changes end the active sessions only: expired
 *   ones are already unusable and get no SessionEnded.
 * - Password reset: only the latest request's token is valid (a newer
 *   request supersedes it), once (any PasswordChanged clears it), until its
 *   expiry. Refusals are PERMISSION_DENIED with details.reason
 *   'reset_token_invalid' (unknown, superseded or used) or
 *   'reset_token_expired'.
 * - Secrets arrive hashed: passwords as argon2id PHC strings
 *   (`$argon2id$…`), tokens as sha256 hex. Anything else is a
 *   VALIDATION_ERROR — a guard against an adapter passing a secret in clear.
 * - Idempotent repeats return []: RegisterUser with the same id, email and
 *   hash; StartSession with the same id and first hash; ChangePassword to the
 *   hash already in force; RequestPasswordReset with the pending hash; and
 *   the no-change cases of the brief.
 */

export function userStream(userId: string): string {
  return `user-${userId}`;
}

type Event = UserEvent;

/** details.reason of a refused RefreshSession (always PERMISSION_DENIED). */
export const REFRESH_REFUSALS = ['session_not_found', 'user_suspended', 'session_ended', 'session_expired', 'token_mismatch'] as const;
export type RefreshRefusal = (typeof REFRESH_REFUSALS)[number];

/** details.reason of a refused ResetPassword (always PERMISSION_DENIED). */
export const RESET_REFUSALS = ['reset_token_invalid', 'reset_token_expired'] as const;
export type ResetRefusal = (typeof RESET_REFUSALS)[number];

const END_SESSION_REASONS = ['logout', 'revoked', 'password_changed'] as const;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const ARGON2ID = /^\$argon2id\$\S+$/;

/** A sha256 hex digest. `got` is left out of the details: it could be a token in clear. */
function requireTokenHash(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) {
    throw new DomainError('VALIDATION_ERROR', `${field} must be a sha256 hex digest`, { field });
  }
  return value;
}

/** An argon2id PHC string. `got` is left out of the details: it could be a password in clear. */
function requirePasswordHash(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ARGON2ID.test(value)) {
    throw new DomainError('VALIDATION_ERROR', `${field} must be an argon2id hash`, { field });
  }
  return value;
}

function requireEmail(value: unknown): string {
  const email = requireText(value, 'email');
  const at = email.indexOf('@');
  if (email !== email.trim().toLowerCase() || at <= 0 || at === email.length - 1 || /\s/.test(email)) {
    throw new DomainError('VALIDATION_ERROR', 'email must be a normalised (trimmed, lower-case) address', { field: 'email' });
  }
  return email;
}

function requireFuture(ms: number, nowMs: number, field: string): void {
  if (ms <= nowMs) throw new DomainError('VALIDATION_ERROR', `${field} must be after now`, { field });
}

function requireAccount(state: UserState, userId: string): UserAccount {
  if (state.account === null || state.account.userId !== userId) {
    throw new DomainError('NOT_FOUND', 'user not found', { userId });
  }
  return state.account;
}

function requireNotSuspended(state: UserState): void {
  if (state.status === 'suspended') {
    throw new DomainError('PERMISSION_DENIED', 'the user is suspended', { reason: 'user_suspended' });
  }
}

function refuseRefresh(reason: RefreshRefusal, message: string): never {
  throw new DomainError('PERMISSION_DENIED', message, { reason });
}

function refuseReset(reason: ResetRefusal, message: string): never {
  throw new DomainError('PERMISSION_DENIED', message, { reason });
}

function endSessions(userId: string, sessions: UserSession[], reason: SessionEndReason, endedAt: string): Event[] {
  return sessions.map((session) => ({ type: 'SessionEnded', data: { userId, sessionId: session.sessionId, reason, endedAt } }));
}

function registerUser(command: RegisterUser, state: UserState): Event[] {
  instant(command.now, 'now');
  const userId = requireText(command.userId, 'userId');
  const email = requireEmail(command.email);
  const passwordHash = requirePasswordHash(command.passwordHash, 'passwordHash');
  const displayName = requireText(command.displayName, 'displayName');
  const role = requireOneOf(command.role, USER_ROLES, 'role');
  if (state.account !== null) {
    const account = state.account;
    if (account.userId === userId && account.email === email && account.passwordHash === passwordHash) return [];
    throw new DomainError('CONFLICT', 'the user is already registered', { userId });
  }
  return [{ type: 'UserRegistered', data: { userId, email, passwordHash, displayName, role, registeredAt: command.now } }];
}

function updateProfile(command: UpdateProfile, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const data: ProfileUpdatedData = { userId: account.userId, updatedAt: command.now };
  let changed = false;
  if (command.displayName !== undefined) {
    const displayName = requireText(command.displayName, 'displayName');
    if (displayName !== account.profile.displayName) {
      data.displayName = displayName;
      changed = true;
    }
  }
  if (command.avatarUrl !== undefined) {
    const avatarUrl = optionalText(command.avatarUrl, 'avatarUrl');
    if (avatarUrl !== account.profile.avatarUrl) {
      data.avatarUrl = avatarUrl;
      changed = true;
    }
  }
  if (command.timezone !== undefined) {
    const timezone = optionalText(command.timezone, 'timezone');
    if (timezone !== account.profile.timezone) {
      data.timezone = timezone;
      changed = true;
    }
  }
  return changed ? [{ type: 'ProfileUpdated', data }] : [];
}

function startSession(command: StartSession, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const sessionId = requireText(command.sessionId, 'sessionId');
  const refreshTokenHash = requireTokenHash(command.refreshTokenHash, 'refreshTokenHash');
  const expiresAtMs = instant(command.expiresAt, 'expiresAt');
  const existing = findSession(state, sessionId);
  if (existing) {
    const firstHash = existing.rotatedTokenHashes[0] ?? existing.refreshTokenHash;
    if (firstHash === refreshTokenHash) return [];
    throw new DomainError('CONFLICT', 'the session id is already in use', { sessionId });
  }
  requireFuture(expiresAtMs, nowMs, 'expiresAt');
  return [
    {
      type: 'SessionStarted',
      data: {
        userId: account.userId,
        sessionId,
        refreshTokenHash,
        expiresAt: command.expiresAt,
        userAgent: optionalText(command.userAgent, 'userAgent'),
        ip: optionalText(command.ip, 'ip'),
        startedAt: command.now,
      },
    },
  ];
}

function refreshSession(command: RefreshSession, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const sessionId = requireText(command.sessionId, 'sessionId');
  const presented = requireTokenHash(command.presentedTokenHash, 'presentedTokenHash');
  const newTokenHash = requireTokenHash(command.newTokenHash, 'newTokenHash');
  const newExpiresAtMs = instant(command.newExpiresAt, 'newExpiresAt');
  const account = state.account;
  if (account === null || account.userId !== command.userId) refuseRefresh('session_not_found', 'no such session');
  if (state.status === 'suspended') refuseRefresh('user_suspended', 'the user is suspended');
  const session = findSession(state, sessionId);
  if (!session) refuseRefresh('session_not_found', 'no such session');
  if (session.endedAt !== null) refuseRefresh('session_ended', 'the session has ended');
  if (
    presented === session.rotatedTokenHashes.at(-1) &&
    newTokenHash === session.refreshTokenHash &&
    command.newExpiresAt === session.expiresAt
  ) {
    return []; // the last rotation, repeated
  }
  if (session.rotatedTokenHashes.includes(presented)) {
    return [{ type: 'SessionEnded', data: { userId: account.userId, sessionId, reason: 'refresh_token_reuse', endedAt: command.now } }];
  }
  if (!isSessionActive(session, nowMs)) refuseRefresh('session_expired', 'the session has expired');
  if (presented !== session.refreshTokenHash) refuseRefresh('token_mismatch', 'the refresh token does not belong to this session');
  if (newTokenHash === session.refreshTokenHash || session.rotatedTokenHashes.includes(newTokenHash)) {
    throw new DomainError('VALIDATION_ERROR', 'newTokenHash must be the hash of a fresh token', { field: 'newTokenHash' });
  }
  requireFuture(newExpiresAtMs, nowMs, 'newExpiresAt');
  return [
    {
      type: 'SessionRefreshed',
      data: { userId: account.userId, sessionId, refreshTokenHash: newTokenHash, expiresAt: command.newExpiresAt, refreshedAt: command.now },
    },
  ];
}

function endSession(command: EndSession, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  const sessionId = requireText(command.sessionId, 'sessionId');
  const reason = requireOneOf(command.reason, END_SESSION_REASONS, 'reason');
  const session = findSession(state, sessionId);
  if (!session) throw new DomainError('NOT_FOUND', 'session not found', { sessionId });
  if (session.endedAt !== null) return [];
  return [{ type: 'SessionEnded', data: { userId: account.userId, sessionId, reason, endedAt: command.now } }];
}

function requestPasswordReset(command: RequestPasswordReset, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const resetTokenHash = requireTokenHash(command.resetTokenHash, 'resetTokenHash');
  const expiresAtMs = instant(command.expiresAt, 'expiresAt');
  if (state.passwordReset?.resetTokenHash === resetTokenHash) return [];
  requireFuture(expiresAtMs, nowMs, 'expiresAt');
  return [
    {
      type: 'PasswordResetRequested',
      data: { userId: account.userId, resetTokenHash, expiresAt: command.expiresAt, requestedAt: command.now },
    },
  ];
}

function resetPassword(command: ResetPassword, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const resetTokenHash = requireTokenHash(command.resetTokenHash, 'resetTokenHash');
  const passwordHash = requirePasswordHash(command.newPasswordHash, 'newPasswordHash');
  const pending = state.passwordReset;
  if (pending === null || pending.resetTokenHash !== resetTokenHash) {
    refuseReset('reset_token_invalid', 'the reset token is not valid');
  }
  if (Date.parse(pending.expiresAt) <= nowMs) refuseReset('reset_token_expired', 'the reset token has expired');
  return [
    { type: 'PasswordChanged', data: { userId: account.userId, passwordHash, via: 'reset', changedAt: command.now } },
    ...endSessions(account.userId, activeSessions(state, nowMs), 'password_changed', command.now),
  ];
}

function changePassword(command: ChangePassword, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const passwordHash = requirePasswordHash(command.newPasswordHash, 'newPasswordHash');
  const keep = optionalText(command.keepSessionId, 'keepSessionId');
  if (passwordHash === account.passwordHash) return [];
  const others = activeSessions(state, nowMs).filter((session) => session.sessionId !== keep);
  return [
    { type: 'PasswordChanged', data: { userId: account.userId, passwordHash, via: 'profile', changedAt: command.now } },
    ...endSessions(account.userId, others, 'password_changed', command.now),
  ];
}

function changeRole(command: ChangeRole, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  const role = requireOneOf(command.role, USER_ROLES, 'role');
  if (role === account.role) return [];
  return [{ type: 'RoleChanged', data: { userId: account.userId, role, previousRole: account.role, changedAt: command.now } }];
}

function suspendUser(command: SuspendUser, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  const reason = requireText(command.reason, 'reason');
  if (state.status === 'suspended') return [];
  return [
    { type: 'UserSuspended', data: { userId: account.userId, reason, suspendedAt: command.now } },
    ...endSessions(account.userId, activeSessions(state, nowMs), 'user_suspended', command.now),
  ];
}

function reactivateUser(command: ReactivateUser, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  if (state.status !== 'suspended') return [];
  return [{ type: 'UserReactivated', data: { userId: account.userId, reactivatedAt: command.now } }];
}

function decide(command: UserCommand, state: UserState): Event[] {
  switch (command.type) {
    case 'RegisterUser':
      return registerUser(command, state);
    case 'UpdateProfile':
      return updateProfile(command, state);
    case 'StartSession':
      return startSession(command, state);
    case 'RefreshSession':
      return refreshSession(command, state);
    case 'EndSession':
      return endSession(command, state);
    case 'RequestPasswordReset':
      return requestPasswordReset(command, state);
    case 'ResetPassword':
      return resetPassword(command, state);
    case 'ChangePassword':
      return changePassword(command, state);
    case 'ChangeRole':
      return changeRole(command, state);
    case 'SuspendUser':
      return suspendUser(command, state);
    case 'ReactivateUser':
      return reactivateUser(command, state);
    default: {
      const unknown: never = command;
      throw new DomainError('VALIDATION_ERROR', 'unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function withAccount(state: UserState, update: (account: UserAccount) => UserAccount): UserState {
  return state.account === null ? state : { ...state, account: update(state.account) };
}

function withSession(state: UserState, sessionId: string, update: (session: UserSession) => UserSession): UserState {
  const session = findSession(state, sessionId);
  return session ? { ...state, sessions: { ...state.sessions, [sessionId]: update(session) } } : state;
}

/**
 * Every event changes the state. The decider only writes events for a
 * registered user and a known session, so the guards in withAccount /
 * withSession (which leave the state as it is) never apply to a stream it
 * wrote.
 */
function evolve(state: UserState, event: Event): UserState {
  switch (event.type) {
    case 'UserRegistered': {
      const d = event.data;
      return {
        ...state,
        status: 'active',
        account: {
          userId: d.userId,
          email: d.email,
          passwordHash: d.passwordHash,
          role: d.role,
          profile: { displayName: d.displayName, avatarUrl: null, timezone: null },
          registeredAt: d.registeredAt,
          passwordChangedAt: null,
        },
      };
    }
    case 'ProfileUpdated': {
      const d = event.data;
      return withAccount(state, (account) => ({
        ...account,
        profile: {
          displayName: d.displayName !== undefined ? d.displayName : account.profile.displayName,
          avatarUrl: d.avatarUrl !== undefined ? d.avatarUrl : account.profile.avatarUrl,
          timezone: d.timezone !== undefined ? d.timezone : account.profile.timezone,
        },
      }));
    }
    case 'SessionStarted': {
      const d = event.data;
      const session: UserSession = {
        sessionId: d.sessionId,
        refreshTokenHash: d.refreshTokenHash,
        rotatedTokenHashes: [],
        expiresAt: d.expiresAt,
        startedAt: d.startedAt,
        lastRefreshedAt: null,
        userAgent: d.userAgent,
        ip: d.ip,
        endedAt: null,
        endReason: null,
      };
      return { ...state, sessions: { ...state.sessions, [d.sessionId]: session } };
    }
    case 'SessionRefreshed': {
      const d = event.data;
      return withSession(state, d.sessionId, (session) => ({
        ...session,
        rotatedTokenHashes: [...session.rotatedTokenHashes, session.refreshTokenHash],
        refreshTokenHash: d.refreshTokenHash,
        expiresAt: d.expiresAt,
        lastRefreshedAt: d.refreshedAt,
      }));
    }
    case 'SessionEnded': {
      const d = event.data;
      return withSession(state, d.sessionId, (session) => ({ ...session, endedAt: d.endedAt, endReason: d.reason }));
    }
    case 'PasswordResetRequested': {
      const d = event.data;
      return { ...state, passwordReset: { resetTokenHash: d.resetTokenHash, expiresAt: d.expiresAt, requestedAt: d.requestedAt } };
    }
    case 'PasswordChanged': {
      const d = event.data;
      const next = withAccount(state, (account) => ({ ...account, passwordHash: d.passwordHash, passwordChangedAt: d.changedAt }));
      return { ...next, passwordReset: null };
    }
    case 'RoleChanged': {
      const d = event.data;
      return withAccount(state, (account) => ({ ...account, role: d.role }));
    }
    case 'UserSuspended': {
      const d = event.data;
      return { ...state, status: 'suspended', suspension: { reason: d.reason, suspendedAt: d.suspendedAt } };
    }
    case 'UserReactivated':
      return { ...state, status: 'active', suspension: null };
  }
}

export const userDecider: Decider<UserState, UserCommand, UserEvent> = { initialState, decide, evolve };
