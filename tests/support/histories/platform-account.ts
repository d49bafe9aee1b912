import fc from 'fast-check';
import type { SealedSecret } from '../../../src/write-model/core/sealed-secret.js';
import { INVALIDATION_REASONS, platformAccountAggregate, type PlatformAccountCommand } from '../../../src/write-model/platform-account/index.js';
import { historySource, sequence } from './harness.js';

/** Sealed boxes as the secret box makes them (base64 iv, tag, ciphertext); the last one carries a cookie in clear (refused). */
const BOXES: readonly SealedSecret[] = [
  { keyId: 'k2026', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFndGFnMQ==', ciphertext: 'Y2lwaGVyLW9uZQ==' },
  { keyId: 'k2026', iv: 'aXYyaXYyaXYyaXYy', tag: 'dGFnMnRhZzJ0YWcydGFnMg==', ciphertext: 'Y2lwaGVyLXR3bw==' },
  { keyId: 'k2026b', iv: 'bmV3aXZuZXdpdm5l', tag: 'dGFnM3RhZzN0YWczdGFnMw==', ciphertext: 'Y2lwaGVyLXRocmVl' },
];
const CLEAR_COOKIE = { keyId: 'k2026', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFndGFnMQ==', ciphertext: 'a1=web_session; path=/' };

/** The owner mostly; a worker (null) where one may act; now and then a stranger. */
const requester = fc.oneof(
  { arbitrary: fc.constant('u1'), weight: 6 },
  { arbitrary: fc.constant(null), weight: 3 },
  { arbitrary: fc.constant('u2'), weight: 1 },
);
const owner = fc.oneof({ arbitrary: fc.constant('u1'), weight: 12 }, { arbitrary: fc.constant('u2'), weight: 1 });

/**
 * One account (`platform_account-a1`): connected (and the retried connect),
 * verified by its owner or a worker (successes, the same result again, another
 * platform user, failures), health readings moving across the levels, reports,
 * credential rotations (the reconnect of an invalid account, and the same box
 * again), renames and the final disconnect; or bound through OAuth, with
 * re-authorizations and token refreshes (expiries in the past now and then) — plus strangers, a cookie in clear,
 * a platform id that is not one, a score out of range.
 */
export const platformAccountHistories = historySource(
  platformAccountAggregate,
  (() => {
    // whether the history has sent the command that creates the stream yet
    let opened = false;
    return sequence(
      fc.record({
        kind: fc.oneof(
          {
            arbitrary: fc.constantFrom(
              'connect',
              'connect',
              'verify',
              'verify',
              'verify',
              'fail',
              'health',
              'health',
              'health',
              'invalidate',
              'rotate',
              'rotate',
              'rename',
              'bind',
              'refresh',
              'refresh',
            ),
            weight: 42,
          },
          { arbitrary: fc.constant('disconnect'), weight: 1 },
        ),
        requester,
        owner,
        // every history opens with the command that creates the stream; one in ten after one other command first (NOT_FOUND)
        early: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
        account: fc.oneof({ arbitrary: fc.constant('a1'), weight: 15 }, { arbitrary: fc.constant('a2'), weight: 1 }),
        platform: fc.oneof({ arbitrary: fc.constant('xiaohongshu'), weight: 12 }, { arbitrary: fc.constantFrom('qidian', 'Xiao Hong Shu'), weight: 1 }),
        platformUserId: fc.oneof({ arbitrary: fc.constant('pu-100'), weight: 12 }, { arbitrary: fc.constant('pu-200'), weight: 1 }),
        knownAtConnect: fc.boolean(),
        // one history in three is an account bound through OAuth
        oauth: fc.oneof({ arbitrary: fc.constant(false), weight: 2 }, { arbitrary: fc.constant(true), weight: 1 }),
        expiresInMinutes: fc.constantFrom(120, 60, -5),
        nickname: fc.constantFrom('小安', '小安', 'Ann'),
        box: fc.oneof({ arbitrary: fc.constantFrom(...BOXES), weight: 20 }, { arbitrary: fc.constant(CLEAR_COOKIE as SealedSecret), weight: 1 }),
        userAgent: fc.option(fc.constantFrom('Mozilla/5.0 (Macintosh)', 'Mozilla/5.0 (iPhone)'), { nil: undefined }),
        displayName: fc.oneof(
          { arbitrary: fc.constantFrom('main', 'shop', '小红书主号'), weight: 15 },
          { arbitrary: fc.constantFrom('   ', 'x'.repeat(201)), weight: 1 },
        ),
        reason: fc.constantFrom(...INVALIDATION_REASONS),
        detail: fc.option(fc.constantFrom('redirected to /login', 'slider captcha'), { nil: undefined }),
        score: fc.oneof({ arbitrary: fc.constantFrom(100, 92, 70, 69, 45, 30, 29, 8, 0), weight: 20 }, { arbitrary: fc.constantFrom(101, 55.5), weight: 1 }),
      }),
      (c, now, index): PlatformAccountCommand => {
        if (index === 0) opened = false;
        const opening = !opened && !(index === 0 && c.early);
        if (opening) opened = true;
        // the stream's account; only a connect names another (CONFLICT: the stream holds a1)
        const accountId = 'a1';
        const userAgent = c.userAgent !== undefined ? { userAgent: c.userAgent } : {};
        const expiresAt = new Date(Date.parse(now) + c.expiresInMinutes * 60_000).toISOString();
        switch (opening ? (c.oauth ? 'bind' : 'connect') : c.kind) {
          case 'bind':
            return {
              type: 'BindOAuthAccount',
              accountId: opening ? 'a1' : c.account,
              ownerId: opening ? 'u1' : c.owner,
              platform: opening ? 'baidu' : c.platform,
              platformUserId: c.platformUserId,
              displayName: c.displayName,
              tokens: c.box,
              expiresAt,
              scope: 'basic publish',
              now,
            };
          case 'refresh':
            return { type: 'RecordOAuthTokensRefreshed', accountId, tokens: c.box, expiresAt, now };
          case 'connect':
            return {
              type: 'ConnectPlatformAccount',
              // the first connect is u1's a1 on a known platform; a later one may differ (CONFLICT)
              accountId: opening ? 'a1' : c.account,
              ownerId: opening ? 'u1' : c.owner,
              platform: opening ? 'xiaohongshu' : c.platform,
              platformUserId: c.knownAtConnect ? c.platformUserId : null,
              displayName: c.displayName,
              credentials: c.box,
              ...userAgent,
              now,
            };
          case 'verify':
            return {
              type: 'VerifyAccount',
              accountId,
              requestedBy: c.requester,
              outcome: { ok: true, platformUserId: c.platformUserId, nickname: c.nickname },
              now,
            };
          case 'fail':
            return {
              type: 'VerifyAccount',
              accountId,
              requestedBy: c.requester,
              outcome: { ok: false, reason: c.reason, ...(c.detail !== undefined ? { detail: c.detail } : {}) },
              now,
            };
          case 'health':
            return { type: 'RecordAccountHealth', accountId, score: c.score, now };
          case 'invalidate':
            return {
              type: 'InvalidateAccount',
              accountId,
              requestedBy: c.requester,
              reason: c.reason,
              ...(c.detail !== undefined ? { detail: c.detail } : {}),
              now,
            };
          case 'rotate':
            return { type: 'RotateAccountCredentials', accountId, requestedBy: c.owner, credentials: c.box, ...userAgent, now };
          case 'rename':
            return { type: 'RenamePlatformAccount', accountId, requestedBy: c.owner, displayName: c.displayName, now };
          case 'disconnect':
            return { type: 'DisconnectPlatformAccount', accountId, requestedBy: c.requester, now };
        }
      },
    );
  })(),
);
