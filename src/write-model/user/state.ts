import type { SessionEndReason, UserRole } from './events.js';

/** `unregistered`: no UserRegistered in this stream yet. */
export type UserStatus = 'unregistered' | 'active' | 'suspended';

export interface UserProfile {
  displayName: string;
  avatarUrl: string | null;
  /** null: the platform's default zone */
  timezone: string | null;
}

/** Who the user is; fixed at registration except where an event says otherwise. */
export interface UserAccount {
  userId: string;
  email: string;
  /** argon2id; what a login is verified against */
  passwordHash: string;
  role: UserRole;
  profile: UserProfile;
  registeredAt: string;
  /** the last PasswordChanged (an auth adapter may refuse access tokens issued before it); null before any */
  passwordChangedAt: string | null;
}

export interface Suspension {
  reason: string;
  suspendedAt: string;
}

export interface UserSession {
  sessionId: string;
  /** sha256 of the refresh token that is valid now */
  refreshTokenHash: string;
  /**
   * Every hash this session has rotated away, oldest first (the first one is
   * the hash the session started with, once it has been refreshed).
   * Presenting one of these is token reuse. Kept for the session's whole
   * life — bounded by the number of refreshes of one session.
   */
  rotatedTokenHashes: string[];
  expiresAt: string;
  startedAt: string;
  lastRefreshedAt: string | null;
  userAgent: string | null;
  ip: string | null;
  /** null while the session has not been ended (it may still have expired: compare expiresAt) */
  endedAt: string | null;
  endReason: SessionEndReason | null;
}

/** The latest reset request; a newer one replaces it, a password change clears it. */
export interface PendingPasswordReset {
  resetTokenHash: string;
  expiresAt: string;
  requestedAt: string;
}

export interface UserState {
  status: UserStatus;
  /** null while unregistered */
  account: UserAccount | null;
  /** null unless suspended */
  suspension: Suspension | null;
  /** by session id, in the order the sessions started; ended sessions stay (for idempotent repeats) */
  sessions: Record<string, UserSession>;
  passwordReset: PendingPasswordReset | null;
}

export function initialState(): UserState {
  return { status: 'unregistered', account: null, suspension: null, sessions: {}, passwordReset: null };
}

/** The session with this id, if this user has one (own keys only: an id such as "constructor" is not a session). */
export function findSession(state: UserState, sessionId: string): UserSession | undefined {
  return Object.hasOwn(state.sessions, sessionId) ? state.sessions[sessionId] : undefined;
}

/** Not ended and not past its expiry at `nowMs`. */
export function isSessionActive(session: UserSession, nowMs: number): boolean {
  return session.endedAt === null && Date.parse(session.expiresAt) > nowMs;
}

/** The sessions that are live at `nowMs`, in the order they started. */
export function activeSessions(state: UserState, nowMs: number): UserSession[] {
  return Object.values(state.sessions).filter((session) => isSessionActive(session, nowMs));
}
