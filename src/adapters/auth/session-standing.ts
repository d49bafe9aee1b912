import type { EventStore } from '../../event-store/port.js';
import { load } from '../../write-model/core/command-handler.js';
import { isRevoked, sessionAggregate } from '../../write-model/session/decider.js';
import { userAggregate } from '../../write-model/user/decider.js';
import type { UserRole } from '../../write-model/user/events.js';
import { mfaEnabled, userStanding } from '../../write-model/user/state.js';

/** Whether an access token's session may still act, and with which role now. */
export type Standing =
  | { ok: true; role: UserRole; mfaEnabled: boolean }
  | { ok: false; reason: 'no_session' | 'session_ended' | 'session_revoked' | 'user_suspended' | 'no_user' };

export interface SessionStandingOptions {
  /** how long an answer is reused for a session (default 1000 ms: a revocation takes effect within it) */
  ttlMs?: number;
  /** most sessions remembered at once (oldest forgotten first) */
  maxEntries?: number;
}

/**
 * Access tokens are JWTs, valid until they expire. What a token cannot know —
 * its session was ended (logout, reuse of a refresh token), revoked (a
 * password change), its user suspended, its user's role changed — is read
 * here from the Session and User streams, the source of truth (no projection
 * lag), and kept per session for `ttlMs`: a busy client costs two stream
 * reads a second, and every change is in force within that second.
 */
export class SessionStanding {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly answers = new Map<string, { at: number; standing: Promise<Standing> }>();

  constructor(
    private readonly store: EventStore,
    options: SessionStandingOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 1_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  check(userId: string, sessionId: string): Promise<Standing> {
    const key = `${userId}:${sessionId}`;
    const now = Date.now();
    const kept = this.answers.get(key);
    if (kept && now - kept.at < this.ttlMs) return kept.standing;
    const standing = this.read(userId, sessionId);
    this.answers.delete(key);
    this.answers.set(key, { at: now, standing });
    // a failed read is not remembered
    standing.catch(() => this.answers.delete(key));
    if (this.answers.size > this.maxEntries) this.answers.delete(this.answers.keys().next().value!);
    return standing;
  }

  private async read(userId: string, sessionId: string): Promise<Standing> {
    const [{ state: session }, { state: user }] = await Promise.all([load(this.store, sessionAggregate, sessionId), load(this.store, userAggregate, userId)]);
    const s = session.session;
    if (s === null || s.userId !== userId) return { ok: false, reason: 'no_session' };
    if (s.endedAt !== null) return { ok: false, reason: 'session_ended' };
    if (user.account === null) return { ok: false, reason: 'no_user' };
    if (user.status === 'suspended') return { ok: false, reason: 'user_suspended' };
    if (isRevoked(s, userStanding(user))) return { ok: false, reason: 'session_revoked' };
    // a second factor (TOTP or SMS codes): what an organization requiring one checks (src/application/authorization)
    return { ok: true, role: user.account.role, mfaEnabled: mfaEnabled(user) };
  }
}
