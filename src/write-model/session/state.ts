import type { SessionEndReason } from './events.js';

/**
 * How many rotated-away refresh-token hashes a session remembers for reuse
 * detection. A token rotated away longer ago than that is refused as a
 * mismatch ('token_mismatch') and does NOT end the session: the state stays
 * the same size however long a session lives.
 */
export const ROTATED_HASHES_KEPT = 32;

/** A session as its decisions need it. Plain JSON (snapshots). */
export interface Session {
  userId: string;
  sessionId: string;
  /** the user's session epoch at login */
  sessionEpoch: number;
  /** the hash the session started with (a repeated StartSession is recognised by it) */
  firstTokenHash: string;
  /** sha256 of the refresh token that is valid now */
  refreshTokenHash: string;
  /** the most recent hashes rotated away, oldest first, at most ROTATED_HASHES_KEPT; presenting one is reuse */
  rotatedTokenHashes: string[];
  expiresAt: string;
  startedAt: string;
  /** null while the session has not been ended (it may still have expired: compare expiresAt) */
  endedAt: string | null;
  endReason: SessionEndReason | null;
}

export interface SessionState {
  /** null until SessionStarted */
  session: Session | null;
}

export function initialSessionState(): SessionState {
  return { session: null };
}

/** Not ended and not past its expiry at `nowMs`. */
export function isSessionLive(session: Session, nowMs: number): boolean {
  return session.endedAt === null && Date.parse(session.expiresAt) > nowMs;
}
