import type { DomainEvent } from '../core/decider.js';

/**
 * The User aggregate's events (DESIGN §5), stream `user-{userId}`.
 * Times are ISO-8601 strings. Secrets never appear here: passwords arrive as
 * argon2id hashes and refresh / reset tokens as sha256 hex hashes, computed by
 * the adapters. The password hash is in the events because the state folded
 * from them is what a login is verified against; read models must never
 * project `passwordHash`, `refreshTokenHash` or `resetTokenHash`.
 *
 * Every event names its user (`userId`) so a projection reading `$all` needs
 * nothing from the stream name.
 */
export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** Why a session ended. The first three come with EndSession; the rest are decided by the aggregate. */
export const SESSION_END_REASONS = ['logout', 'revoked', 'password_changed', 'refresh_token_reuse', 'user_suspended'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

export const PASSWORD_CHANGE_VIAS = ['reset', 'profile'] as const;
export type PasswordChangeVia = (typeof PASSWORD_CHANGE_VIAS)[number];

export interface UserRegisteredData {
  userId: string;
  /** normalised: trimmed, lower-case */
  email: string;
  /** argon2id */
  passwordHash: string;
  displayName: string;
  role: UserRole;
  registeredAt: string;
}

/**
 * Only the fields that changed are present. `avatarUrl` and `timezone` may be
 * null: cleared (the read side then shows no avatar / the platform's zone).
 */
export interface ProfileUpdatedData {
  userId: string;
  displayName?: string;
  avatarUrl?: string | null;
  timezone?: string | null;
  updatedAt: string;
}

/** A login (the adapter verified the password first). */
export interface SessionStartedData {
  userId: string;
  sessionId: string;
  /** sha256 of the session's first opaque refresh token */
  refreshTokenHash: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  startedAt: string;
}

/** The session's refresh token was rotated: the previous hash is retired for good. */
export interface SessionRefreshedData {
  userId: string;
  sessionId: string;
  /** sha256 of the new refresh token */
  refreshTokenHash: string;
  expiresAt: string;
  refreshedAt: string;
}

export interface SessionEndedData {
  userId: string;
  sessionId: string;
  reason: SessionEndReason;
  endedAt: string;
}

/** A reset link was sent; it supersedes every earlier one. */
export interface PasswordResetRequestedData {
  userId: string;
  /** sha256 of the single-use reset token */
  resetTokenHash: string;
  expiresAt: string;
  requestedAt: string;
}

/** The password hash to verify logins against from now on; any pending reset token is void. */
export interface PasswordChangedData {
  userId: string;
  /** argon2id */
  passwordHash: string;
  via: PasswordChangeVia;
  changedAt: string;
}

export interface RoleChangedData {
  userId: string;
  role: UserRole;
  previousRole: UserRole;
  changedAt: string;
}

export interface UserSuspendedData {
  userId: string;
  reason: string;
  suspendedAt: string;
}

export interface UserReactivatedData {
  userId: string;
  reactivatedAt: string;
}

export type UserEvent =
  | DomainEvent<'UserRegistered', UserRegisteredData>
  | DomainEvent<'ProfileUpdated', ProfileUpdatedData>
  | DomainEvent<'SessionStarted', SessionStartedData>
  | DomainEvent<'SessionRefreshed', SessionRefreshedData>
  | DomainEvent<'SessionEnded', SessionEndedData>
  | DomainEvent<'PasswordResetRequested', PasswordResetRequestedData>
  | DomainEvent<'PasswordChanged', PasswordChangedData>
  | DomainEvent<'RoleChanged', RoleChangedData>
  | DomainEvent<'UserSuspended', UserSuspendedData>
  | DomainEvent<'UserReactivated', UserReactivatedData>;

export type UserEventType = UserEvent['type'];
