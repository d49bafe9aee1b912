/**
 * Commands of the Session aggregate (stream `session-{sessionId}`). The
 * login and refresh adapters read the user's state first (one load, from
 * its snapshot) and pass what the session must know of the user as
 * `user`: the session stream cannot see the user stream.
 */

/** What a session decision needs of its user, read from the user state just before. */
export interface UserStanding {
  status: 'unregistered' | 'active' | 'suspended';
  /** bumped by every mass revocation (password change or reset, suspension) */
  sessionEpoch: number;
  /**
   * The session the last password changes were made from, and the epoch it
   * started in: it survived every bump since (null after a suspension or a
   * change with no session to keep).
   */
  keptSession: { sessionId: string; sinceEpoch: number } | null;
}

/** A login whose password the adapter has verified. */
export interface StartSession {
  type: 'StartSession';
  userId: string;
  sessionId: string;
  refreshTokenHash: string;
  expiresAt: string;
  userAgent?: string;
  ip?: string;
  user: UserStanding;
  now: string;
}

/** Rotate the session's refresh token: present the current one, get a new one. */
export interface RefreshSession {
  type: 'RefreshSession';
  userId: string;
  sessionId: string;
  presentedTokenHash: string;
  newTokenHash: string;
  newExpiresAt: string;
  user: UserStanding;
  now: string;
}

/** logout / revoked come from the user; password_changed / user_suspended from the end-sessions process manager. */
export interface EndSession {
  type: 'EndSession';
  userId: string;
  sessionId: string;
  reason: 'logout' | 'revoked' | 'password_changed' | 'user_suspended';
  now: string;
}

export type SessionCommand = StartSession | RefreshSession | EndSession;
