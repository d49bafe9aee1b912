import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * A login session's events, stream `session-{sessionId}`: short-lived, one
 * stream per login (start, a refresh per access-token lifetime while the
 * client stays active, one end). Secrets arrive hashed (sha256 hex of the
 * opaque refresh token); read models must never project `refreshTokenHash`.
 * Every event names its user and session, so a projection reading `$all`
 * needs nothing from the stream name.
 */

/** Why a session ended: the first two come from the user, the last three are decided (reuse) or come from the end-sessions process manager. */
export const SESSION_END_REASONS = ['logout', 'revoked', 'password_changed', 'refresh_token_reuse', 'user_suspended'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

/** A login (the adapter verified the password first). */
export interface SessionStartedData {
  userId: string;
  sessionId: string;
  /** sha256 of the session's first opaque refresh token */
  refreshTokenHash: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  /** the user's session epoch at login (user state): a later mass revocation (epoch bump) ends this session */
  sessionEpoch: number;
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

export type SessionEvent =
  | DomainEvent<'SessionStarted', SessionStartedData>
  | DomainEvent<'SessionRefreshed', SessionRefreshedData>
  | DomainEvent<'SessionEnded', SessionEndedData>;

export type SessionEventType = SessionEvent['type'];

// ---------------------------------------------------------------- decoding

const ids = { userId: z.string(), sessionId: z.string() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const sessionEvents = eventCodec<SessionEvent>({
  SessionStarted: {
    schema: z.object({
      ...ids,
      refreshTokenHash: z.string(),
      expiresAt: z.string(),
      userAgent: z.string().nullable(),
      ip: z.string().nullable(),
      sessionEpoch: z.number().int().nonnegative(),
      startedAt: z.string(),
    }),
  },
  SessionRefreshed: { schema: z.object({ ...ids, refreshTokenHash: z.string(), expiresAt: z.string(), refreshedAt: z.string() }) },
  SessionEnded: { schema: z.object({ ...ids, reason: z.enum(SESSION_END_REASONS), endedAt: z.string() }) },
});
