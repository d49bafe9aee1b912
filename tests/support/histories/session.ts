import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  isRevoked,
  sessionAggregate,
  type EndSession,
  type RefreshSession,
  type SessionCommand,
  type UserStanding,
} from '../../../src/write-model/session/index.js';
import { keptAfterChange } from '../../../src/write-model/user/state.js';
import { historySource, sequence } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const later = (now: string, minutes: number) => new Date(Date.parse(now) + minutes * 60_000).toISOString();

const FIRST_TOKEN = sha('s1-refresh-0');

type Kind = 'start' | 'refresh' | 'repeat' | 'reuse' | 'stale' | 'end' | 'revokedEnd';

/** The client's view of its login: the epoch it started in (null: not logged in), its token, the ones it rotated away. */
function freshClient() {
  return { epoch: null as number | null, expiresAtMs: 0, ended: false, current: FIRST_TOKEN, retired: [] as string[], last: null as RefreshSession | null };
}

type UserEventKind = 'none' | 'changeHere' | 'changeElsewhere' | 'changeNoSession' | 'reset' | 'suspend' | 'reactivate';

/** What happens to the user (user-{id}) just before the command: mostly nothing; now and then a mass revocation or a suspension. */
const userEvent: fc.Arbitrary<UserEventKind> = fc.oneof(
  { arbitrary: fc.constant<UserEventKind>('none'), weight: 40 },
  { arbitrary: fc.constant<UserEventKind>('changeHere'), weight: 2 },
  { arbitrary: fc.constantFrom<UserEventKind>('changeElsewhere', 'changeNoSession', 'reset', 'suspend'), weight: 1 },
  { arbitrary: fc.constant<UserEventKind>('reactivate'), weight: 3 },
);

/** The user's standing after that event, as the adapters read it from the user state (mirrors user/decider.ts). */
function applyUserEvent(standing: UserStanding, event: UserEventKind): void {
  const bump = (kept: UserStanding['keptSession']) => {
    standing.keptSession = kept;
    standing.sessionEpoch += 1;
  };
  switch (event) {
    case 'changeHere':
      if (standing.status === 'active') bump(keptAfterChange(standing.keptSession, 's1', standing.sessionEpoch));
      return;
    case 'changeElsewhere':
      if (standing.status === 'active') bump(keptAfterChange(standing.keptSession, 's9', standing.sessionEpoch));
      return;
    case 'changeNoSession':
    case 'reset':
      if (standing.status === 'active') bump(null);
      return;
    case 'suspend':
      if (standing.status === 'active') {
        standing.status = 'suspended';
        bump(null);
      }
      return;
    case 'reactivate':
      standing.status = 'active';
      return;
    case 'none':
      return;
  }
}

/**
 * One login (`session-s1`) of u1 as its client drives it: starts (and retried
 * starts), refreshes with the token it holds, a handler retry of the last
 * rotation, a stolen token replayed (reuse), a token it never had, logouts and
 * the end-sessions process manager's ends — while the user changes passwords
 * (from this session or another), resets, is suspended and reactivated. Now and
 * then another session id or user, an unregistered user, a token in clear or
 * an expiry in the past.
 */
export const sessionHistories = historySource(
  sessionAggregate,
  (() => {
    // what the generated adapters and client know, assuming their commands were taken (reset on each new history: index 0)
    let standing: UserStanding = { status: 'active', sessionEpoch: 0, keptSession: null };
    let client = freshClient();
    // whether the history has sent its StartSession yet
    let opened = false;
    return sequence(
      fc.record({
        kind: fc.oneof(
          { arbitrary: fc.constantFrom<Kind>('start', 'refresh', 'refresh', 'refresh', 'refresh', 'refresh', 'refresh', 'repeat', 'stale'), weight: 18 },
          { arbitrary: fc.constantFrom<Kind>('reuse', 'end'), weight: 1 },
        ),
        userEvent,
        // every history opens with the command that creates the stream; one in ten after one other command first (NOT_FOUND)
        early: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
        // mostly what the client and the process manager would send next; one in eight whatever was drawn
        wild: fc.oneof({ arbitrary: fc.constant(false), weight: 7 }, { arbitrary: fc.constant(true), weight: 1 }),
        ghost: fc.oneof({ arbitrary: fc.constant(false), weight: 30 }, { arbitrary: fc.constant(true), weight: 1 }),
        unhashed: fc.oneof({ arbitrary: fc.constant(false), weight: 30 }, { arbitrary: fc.constant(true), weight: 1 }),
        sessionId: fc.oneof({ arbitrary: fc.constant('s1'), weight: 30 }, { arbitrary: fc.constant('s2'), weight: 1 }),
        userId: fc.oneof({ arbitrary: fc.constant('u1'), weight: 30 }, { arbitrary: fc.constant('u2'), weight: 1 }),
        ttl: fc.oneof({ arbitrary: fc.constantFrom(720, 1440, 10080), weight: 15 }, { arbitrary: fc.constant(-10), weight: 1 }),
        userAgent: fc.option(fc.constantFrom('Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0'), { nil: undefined }),
        ip: fc.option(fc.constantFrom('10.0.0.1', '2001:db8::1'), { nil: undefined }),
        reason: fc.constantFrom<EndSession['reason']>('logout', 'revoked', 'password_changed', 'user_suspended'),
        pick: fc.nat(),
      }),
      (c, now, index): SessionCommand => {
        if (index === 0) {
          standing = { status: 'active', sessionEpoch: 0, keptSession: null };
          client = freshClient();
          opened = false;
        }
        const first = !opened;
        const opening = !opened && !(index === 0 && c.early);
        if (opening) opened = true;
        applyUserEvent(standing, c.userEvent);
        const nowMs = Date.parse(now);
        // the first commands (up to the login) are well-formed; later ones now and then are not
        const odd = !first && (c.unhashed || c.ghost || c.ttl < 0 || c.userId !== 'u1' || c.sessionId !== 's1');
        const ttl = first ? 1440 : c.ttl;
        const user: UserStanding = {
          status: c.ghost && !first ? 'unregistered' : standing.status,
          sessionEpoch: standing.sessionEpoch,
          keptSession: standing.keptSession === null ? null : { ...standing.keptSession },
        };
        // the stream is session-s1: its first command names u1's s1
        const ids = first ? { userId: 'u1', sessionId: 's1' } : { userId: c.userId, sessionId: c.sessionId };
        const token = (hash: string) => (c.unhashed && !first ? 'a-refresh-token-in-clear' : hash);
        const refresh = (presented: string): RefreshSession => ({
          type: 'RefreshSession',
          ...ids,
          presentedTokenHash: token(presented),
          newTokenHash: sha(`s1-refresh-${index + 1}`),
          newExpiresAt: later(now, ttl),
          user,
          now,
        });
        const live = client.epoch !== null && !client.ended && nowMs < client.expiresAtMs;
        // a revoked session: the end-sessions process manager records its end
        const revoked =
          client.epoch !== null && !client.ended && (standing.status === 'suspended' || isRevoked({ sessionId: 's1', sessionEpoch: client.epoch }, standing));
        let kind: Kind = opening ? 'start' : c.kind;
        if (!opening && !c.wild) {
          if (revoked) kind = 'revokedEnd';
          else if (client.ended)
            kind = 'end'; // a redelivered end: a no-op
          else if (kind === 'start' && client.epoch !== null) kind = 'refresh';
        }
        switch (kind) {
          case 'start':
            if (client.epoch === null && standing.status === 'active' && !odd) {
              client.epoch = standing.sessionEpoch;
              client.expiresAtMs = Date.parse(later(now, ttl));
            }
            return {
              type: 'StartSession',
              ...ids,
              refreshTokenHash: token(FIRST_TOKEN),
              expiresAt: later(now, ttl),
              ...(c.userAgent !== undefined ? { userAgent: c.userAgent } : {}),
              ...(c.ip !== undefined ? { ip: c.ip } : {}),
              user,
              now,
            };
          case 'refresh': {
            const command = refresh(client.current);
            if (live && standing.status === 'active' && !odd) {
              client.retired.push(client.current);
              client.current = command.newTokenHash;
              client.expiresAtMs = Date.parse(command.newExpiresAt);
              client.last = command;
            }
            return command;
          }
          case 'repeat':
            // the handler retries the last rotation word for word (a fresh `now`)
            return client.last === null ? refresh(client.current) : { ...client.last, user, now };
          case 'reuse':
            // a token the client rotated away, presented again (a thief, or a client that lost the answer): the session ends
            client.ended = client.ended || (client.retired.length > 0 && client.epoch !== null);
            return refresh(client.retired.length === 0 ? client.current : client.retired[c.pick % client.retired.length]!);
          case 'stale':
            return refresh(sha(`never-issued-${c.pick % 3}`));
          case 'end':
            if (client.epoch !== null && !odd) client.ended = true;
            return { type: 'EndSession', ...ids, reason: c.reason, now };
          case 'revokedEnd':
            client.ended = true;
            return { type: 'EndSession', userId: 'u1', sessionId: 's1', reason: standing.status === 'suspended' ? 'user_suspended' : 'password_changed', now };
        }
      },
    );
  })(),
);
