import { requireSealed, sameSealed } from '../core/sealed-secret.js';
import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type {
  BindOAuthAccount,
  ConnectPlatformAccount,
  DisconnectPlatformAccount,
  RenamePlatformAccount,
  InvalidateAccount,
  PlatformAccountCommand,
  RecordAccountHealth,
  RecordOAuthTokensRefreshed,
  RotateAccountCredentials,
  VerifyAccount,
} from './commands.js';
import {
  INVALIDATION_REASONS,
  platformAccountEvents,
  type AccountRef,
  type HealthLevel,
  type InvalidationReason,
  type PlatformAccountEvent,
} from './events.js';
import { initialState, type ConnectedAccount, type PlatformAccountState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * The PlatformAccount aggregate: one user's account on one platform, with
 * its sealed credentials, its health and whether it still works.
 *
 * Rules the decisions follow (see also the specs):
 * - Platform-agnostic: `platform` is only checked for shape; the registry of
 *   platforms lives outside the write model.
 * - Ownership: user commands name `requestedBy` (whose accounts a user may
 *   act on is the access policy's, checked by the application: docs/rbac.md);
 *   none is PERMISSION_DENIED (an unknown account is NOT_FOUND first). `null` means a
 *   worker and is accepted only where a worker may act (verify, invalidate,
 *   disconnect); RecordAccountHealth is a worker's only.
 * - Connect on an existing stream: the same account, owner and platform is a
 *   retried request and a no-op (the credentials are not compared: a retry
 *   seals them again with a fresh iv); anything else is CONFLICT.
 * - Verification: success makes the account active (a no-op when already
 *   active with the same platform user and nickname); a platform user other
 *   than the one known is CONFLICT — the credentials log into someone else.
 *   Failure invalidates, like InvalidateAccount.
 * - Invalidation: while invalid, the same reason again is a no-op; another
 *   reason is recorded (captcha → banned matters to the owner).
 * - Health: integer 0..100, recorded only when the score moves; the level
 *   follows the score (healthLevel). Health never changes the status.
 * - Reconnect is AccountCredentialsRotated (no event of its own): new
 *   credentials on an invalid account put it back to pending_verification;
 *   otherwise the status stays. The same sealed box and user agent again is a
 *   retry and a no-op.
 * - Disconnect is final: a repeat is a no-op, every other command CONFLICT.
 * - Credentials never appear in error details, and events carry only the
 *   four fields of the sealed box (copied field by field).
 * - OAuth binding (BindOAuthAccount → OAuthAccountBound): on an empty stream
 *   it makes an active account; on the account of the same owner, platform
 *   and platform user it re-authorizes it (new tokens, active again, even
 *   from invalid); the same sealed tokens again are a retry and a no-op. A
 *   cookie account, another platform user, another owner's account or a
 *   disconnected one is refused. The expiry must lie after `now`.
 * - Refreshed tokens (RecordOAuthTokensRefreshed, system only) are taken on
 *   an OAuth account that is active (or pending); an invalid or disconnected
 *   one is CONFLICT (the owner binds again). A cookie account's credentials
 *   never become tokens, nor the reverse: RotateAccountCredentials on an
 *   OAuth account is CONFLICT.
 */

export function platformAccountStream(accountId: string): string {
  return `platform_account-${accountId}`;
}

type Event = PlatformAccountEvent;

const PLATFORM_ID = /^[a-z][a-z0-9_]*$/;
const MAX_DISPLAY_NAME = 200;
/** A new account is taken as fully healthy (health_score 100) until a worker measures it. */
export const INITIAL_HEALTH_SCORE = 100;

/** healthy ≥ 70 > degraded ≥ 30 > critical. */
export function healthLevel(score: number): HealthLevel {
  if (score >= 70) return 'healthy';
  if (score >= 30) return 'degraded';
  return 'critical';
}

// ---------------------------------------------------------------- checks

function requirePlatform(value: unknown): string {
  if (typeof value !== 'string' || !PLATFORM_ID.test(value)) {
    throw invalid('platform must be a platform id (lower-case letters, digits, _)', { field: 'platform', got: value });
  }
  return value;
}

function requireDisplayName(value: unknown): string {
  const displayName = requireText(value, 'displayName');
  if (characterCount(displayName) > MAX_DISPLAY_NAME) {
    throw invalid(`displayName must be at most ${MAX_DISPLAY_NAME} characters`, { field: 'displayName', max: MAX_DISPLAY_NAME });
  }
  return displayName;
}

function requireScore(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
    throw invalid('score must be a whole number from 0 to 100', { field: 'score', got: value });
  }
  return value;
}

function existing(state: PlatformAccountState, accountId: string): ConnectedAccount {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `platform account ${accountId} does not exist`, { accountId });
  return state;
}

/**
 * A user must have asked — `null` (a worker) only where the command allows
 * it. Whose accounts a user may act on is the access policy's (an
 * organization admin disconnects a member's: docs/rbac.md), checked by the
 * application against the caller's data scope; the decider records who.
 */
function authorize(a: ConnectedAccount, requestedBy: unknown, systemAllowed: boolean): string | null {
  if (requestedBy === null && systemAllowed) return null;
  if (typeof requestedBy === 'string' && requestedBy !== '') return requestedBy;
  throw new DomainError('PERMISSION_DENIED', `a user must ask to change platform account ${a.accountId}`, { accountId: a.accountId });
}

function notDisconnected(a: ConnectedAccount): void {
  if (a.status === 'disconnected') {
    throw new DomainError('CONFLICT', `platform account ${a.accountId} is disconnected`, { accountId: a.accountId, status: a.status });
  }
}

function ref(a: ConnectedAccount): AccountRef {
  return { accountId: a.accountId, ownerId: a.ownerId, platform: a.platform };
}

// ---------------------------------------------------------------- decide

function connect(command: ConnectPlatformAccount, state: PlatformAccountState): Event[] {
  if (state.status !== 'none') {
    const same = state.accountId === command.accountId && state.ownerId === command.ownerId && state.platform === command.platform;
    if (same && state.status !== 'disconnected') return [];
    throw new DomainError('CONFLICT', `platform account ${state.accountId} already exists`, { accountId: state.accountId, status: state.status });
  }
  const accountId = requireText(command.accountId, 'accountId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const platform = requirePlatform(command.platform);
  const platformUserId = optionalText(command.platformUserId, 'platformUserId');
  const displayName = requireDisplayName(command.displayName);
  const credentials = requireSealed(command.credentials);
  const userAgent = optionalText(command.userAgent, 'userAgent');
  instant(command.now, 'now');
  return [
    {
      type: 'PlatformAccountConnected',
      data: {
        accountId,
        ownerId,
        platform,
        platformUserId,
        displayName,
        credentials,
        userAgent,
        status: 'pending_verification',
        healthScore: INITIAL_HEALTH_SCORE,
        healthLevel: healthLevel(INITIAL_HEALTH_SCORE),
        connectedAt: command.now,
      },
    },
  ];
}

interface Invalidation {
  reason: InvalidationReason;
  detail: string | null;
  source: 'verification' | 'report';
  requestedBy: string | null;
  now: string;
}

/** Shared by a failed verification and InvalidateAccount. */
function invalidate(a: ConnectedAccount, i: Invalidation): Event[] {
  const previousReason = a.status === 'invalid' ? (a.lastInvalidation?.reason ?? null) : null;
  if (previousReason === i.reason) return [];
  return [
    {
      type: 'AccountInvalidated',
      data: {
        ...ref(a),
        reason: i.reason,
        detail: i.detail,
        source: i.source,
        previousStatus: a.status,
        previousReason,
        requestedBy: i.requestedBy,
        invalidatedAt: i.now,
      },
    },
  ];
}

function verify(command: VerifyAccount, state: PlatformAccountState): Event[] {
  const a = existing(state, command.accountId);
  const requestedBy = authorize(a, command.requestedBy, true);
  const outcome: unknown = command.outcome;
  if (typeof outcome !== 'object' || outcome === null || typeof (outcome as { ok?: unknown }).ok !== 'boolean') {
    throw invalid('outcome must say ok: true or false', { field: 'outcome' });
  }
  instant(command.now, 'now');
  const o = command.outcome;
  if (!o.ok) {
    const reason = requireOneOf(o.reason, INVALIDATION_REASONS, 'outcome.reason');
    const detail = optionalText(o.detail, 'outcome.detail');
    notDisconnected(a);
    return invalidate(a, { reason, detail, source: 'verification', requestedBy, now: command.now });
  }
  const platformUserId = requireText(o.platformUserId, 'outcome.platformUserId');
  const nickname = requireText(o.nickname, 'outcome.nickname');
  notDisconnected(a);
  if (a.platformUserId !== null && a.platformUserId !== platformUserId) {
    throw new DomainError('CONFLICT', `the credentials of platform account ${a.accountId} log into another platform user`, {
      accountId: a.accountId,
      platformUserId: a.platformUserId,
      got: platformUserId,
    });
  }
  if (a.status === 'active' && a.nickname === nickname) return [];
  return [
    {
      type: 'AccountVerified',
      data: { ...ref(a), platformUserId, nickname, previousStatus: a.status, requestedBy, verifiedAt: command.now },
    },
  ];
}

function recordHealth(command: RecordAccountHealth, state: PlatformAccountState): Event[] {
  const a = existing(state, command.accountId);
  const score = requireScore(command.score);
  instant(command.now, 'now');
  notDisconnected(a);
  if (score === a.healthScore) return [];
  return [
    {
      type: 'AccountHealthChanged',
      data: {
        ...ref(a),
        score,
        previousScore: a.healthScore,
        level: healthLevel(score),
        previousLevel: a.healthLevel,
        changedAt: command.now,
      },
    },
  ];
}

function invalidateAccount(command: InvalidateAccount, state: PlatformAccountState): Event[] {
  const a = existing(state, command.accountId);
  const requestedBy = authorize(a, command.requestedBy, true);
  const reason = requireOneOf(command.reason, INVALIDATION_REASONS, 'reason');
  const detail = optionalText(command.detail, 'detail');
  instant(command.now, 'now');
  notDisconnected(a);
  return invalidate(a, { reason, detail, source: 'report', requestedBy, now: command.now });
}

function rotate(command: RotateAccountCredentials, state: PlatformAccountState): Event[] {
  const a = existing(state, command.accountId);
  const requestedBy = authorize(a, command.requestedBy, false) as string;
  const credentials = requireSealed(command.credentials);
  const userAgent = optionalText(command.userAgent, 'userAgent');
  instant(command.now, 'now');
  notDisconnected(a);
  if (a.oauth) {
    throw new DomainError('CONFLICT', `platform account ${a.accountId} is bound through OAuth: authorize it again instead`, {
      accountId: a.accountId,
      binding: 'oauth',
    });
  }
  if (sameSealed(a.credentials, credentials) && a.userAgent === userAgent) return [];
  // the reconnect; 'disconnected' was refused above and is named only to narrow the type
  const status = a.status === 'invalid' || a.status === 'disconnected' ? 'pending_verification' : a.status;
  return [
    {
      type: 'AccountCredentialsRotated',
      data: {
        ...ref(a),
        credentials,
        userAgent,
        previousKeyId: a.credentials.keyId,
        previousStatus: a.status,
        status,
        requestedBy,
        rotatedAt: command.now,
      },
    },
  ];
}

function rename(command: RenamePlatformAccount, state: PlatformAccountState): Event[] {
  const a = existing(state, command.accountId);
  const requestedBy = authorize(a, command.requestedBy, false) as string;
  const displayName = requireDisplayName(command.displayName);
  instant(command.now, 'now');
  notDisconnected(a);
  if (displayName === a.displayName) return [];
  return [
    {
      type: 'PlatformAccountRenamed',
      data: { ...ref(a), displayName, previousDisplayName: a.displayName, requestedBy, renamedAt: command.now },
    },
  ];
}

function disconnect(command: DisconnectPlatformAccount, state: PlatformAccountState): Event[] {
  const a = existing(state, command.accountId);
  const requestedBy = authorize(a, command.requestedBy, true);
  instant(command.now, 'now');
  if (a.status === 'disconnected') return [];
  return [
    {
      type: 'PlatformAccountDisconnected',
      data: { ...ref(a), previousStatus: a.status, requestedBy, disconnectedAt: command.now },
    },
  ];
}

const MAX_SCOPE = 500;

function requireLater(value: unknown, field: string, now: string): string {
  if (instant(value, field) <= Date.parse(now)) throw invalid(`${field} must lie after now`, { field });
  return value as string;
}

function bindOAuth(command: BindOAuthAccount, state: PlatformAccountState): Event[] {
  const accountId = requireText(command.accountId, 'accountId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const platform = requirePlatform(command.platform);
  const platformUserId = requireText(command.platformUserId, 'platformUserId');
  const displayName = requireDisplayName(command.displayName);
  const tokens = requireSealed(command.tokens, 'tokens');
  instant(command.now, 'now');
  const now = command.now;
  const expiresAt = requireLater(command.expiresAt, 'expiresAt', now);
  if (typeof command.scope !== 'string' || command.scope.length > MAX_SCOPE) {
    throw invalid(`scope must be a string of at most ${MAX_SCOPE} characters`, { field: 'scope' });
  }
  const scope = command.scope;
  if (state.status === 'none') {
    return [
      {
        type: 'OAuthAccountBound',
        data: {
          accountId,
          ownerId,
          platform,
          platformUserId,
          displayName,
          tokens,
          expiresAt,
          scope,
          status: 'active',
          previousStatus: null,
          healthScore: INITIAL_HEALTH_SCORE,
          healthLevel: healthLevel(INITIAL_HEALTH_SCORE),
          boundAt: now,
        },
      },
    ];
  }
  const a = state;
  if (a.accountId !== accountId) {
    throw new DomainError('CONFLICT', `the stream holds platform account ${a.accountId}`, { accountId: a.accountId });
  }
  // binding again is the owner's own: the account stays theirs
  if (ownerId !== a.ownerId) throw new DomainError('PERMISSION_DENIED', `platform account ${a.accountId} belongs to another user`, { accountId: a.accountId });
  notDisconnected(a);
  if (a.platform !== platform || !a.oauth) {
    throw new DomainError('CONFLICT', `platform account ${a.accountId} is not an OAuth account of ${platform}`, {
      accountId: a.accountId,
      platform: a.platform,
      binding: a.oauth ? 'oauth' : 'cookies',
    });
  }
  if (a.platformUserId !== platformUserId) {
    throw new DomainError('CONFLICT', `platform account ${a.accountId} belongs to another platform user`, {
      accountId: a.accountId,
      platformUserId: a.platformUserId,
      got: platformUserId,
    });
  }
  if (sameSealed(a.credentials, tokens)) return [];
  return [
    {
      type: 'OAuthAccountBound',
      data: {
        ...ref(a),
        platformUserId,
        displayName,
        tokens,
        expiresAt,
        scope,
        status: 'active',
        previousStatus: a.status,
        healthScore: a.healthScore,
        healthLevel: a.healthLevel,
        boundAt: now,
      },
    },
  ];
}

function recordRefreshed(command: RecordOAuthTokensRefreshed, state: PlatformAccountState): Event[] {
  const a = existing(state, command.accountId);
  const tokens = requireSealed(command.tokens, 'tokens');
  instant(command.now, 'now');
  const now = command.now;
  const expiresAt = requireLater(command.expiresAt, 'expiresAt', now);
  notDisconnected(a);
  if (!a.oauth) {
    throw new DomainError('CONFLICT', `platform account ${a.accountId} is not bound through OAuth`, { accountId: a.accountId, binding: 'cookies' });
  }
  if (sameSealed(a.credentials, tokens)) return [];
  if (a.status === 'invalid') {
    throw new DomainError('CONFLICT', `platform account ${a.accountId} is invalid: the owner must authorize it again`, {
      accountId: a.accountId,
      status: a.status,
    });
  }
  return [{ type: 'OAuthTokensRefreshed', data: { ...ref(a), tokens, expiresAt, previousExpiresAt: a.oauth.expiresAt, refreshedAt: now } }];
}

function decide(command: PlatformAccountCommand, state: PlatformAccountState): Event[] {
  switch (command.type) {
    case 'BindOAuthAccount':
      return bindOAuth(command, state);
    case 'RecordOAuthTokensRefreshed':
      return recordRefreshed(command, state);
    case 'ConnectPlatformAccount':
      return connect(command, state);
    case 'VerifyAccount':
      return verify(command, state);
    case 'RecordAccountHealth':
      return recordHealth(command, state);
    case 'InvalidateAccount':
      return invalidateAccount(command, state);
    case 'RotateAccountCredentials':
      return rotate(command, state);
    case 'RenamePlatformAccount':
      return rename(command, state);
    case 'DisconnectPlatformAccount':
      return disconnect(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

/**
 * Every event changes the state. Only PlatformAccountConnected can come
 * first (decide answers NOT_FOUND to everything else on an empty stream);
 * any other event on an empty state leaves it as it is.
 */
function evolve(state: PlatformAccountState, event: Event): PlatformAccountState {
  if (event.type === 'OAuthAccountBound' && state.status === 'none') {
    const d = event.data;
    return {
      status: d.status,
      accountId: d.accountId,
      ownerId: d.ownerId,
      platform: d.platform,
      platformUserId: d.platformUserId,
      displayName: d.displayName,
      nickname: d.displayName,
      credentials: d.tokens,
      userAgent: null,
      healthScore: d.healthScore,
      healthLevel: d.healthLevel,
      lastInvalidation: null,
      connectedAt: d.boundAt,
      verifiedAt: d.boundAt,
      healthChangedAt: null,
      credentialsRotatedAt: null,
      disconnectedAt: null,
      oauth: { expiresAt: d.expiresAt, issuedAt: d.boundAt, scope: d.scope },
    };
  }
  if (event.type === 'PlatformAccountConnected') {
    const d = event.data;
    return {
      status: d.status,
      accountId: d.accountId,
      ownerId: d.ownerId,
      platform: d.platform,
      platformUserId: d.platformUserId,
      displayName: d.displayName,
      nickname: null,
      credentials: d.credentials,
      userAgent: d.userAgent,
      healthScore: d.healthScore,
      healthLevel: d.healthLevel,
      lastInvalidation: null,
      connectedAt: d.connectedAt,
      verifiedAt: null,
      healthChangedAt: null,
      credentialsRotatedAt: null,
      disconnectedAt: null,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'AccountVerified': {
      const d = event.data;
      return { ...state, status: 'active', platformUserId: d.platformUserId, nickname: d.nickname, verifiedAt: d.verifiedAt };
    }
    case 'AccountHealthChanged': {
      const d = event.data;
      return { ...state, healthScore: d.score, healthLevel: d.level, healthChangedAt: d.changedAt };
    }
    case 'AccountInvalidated': {
      const d = event.data;
      return { ...state, status: 'invalid', lastInvalidation: { reason: d.reason, detail: d.detail, at: d.invalidatedAt } };
    }
    case 'AccountCredentialsRotated': {
      const d = event.data;
      return { ...state, status: d.status, credentials: d.credentials, userAgent: d.userAgent, credentialsRotatedAt: d.rotatedAt };
    }
    case 'PlatformAccountRenamed':
      return { ...state, displayName: event.data.displayName };
    case 'PlatformAccountDisconnected':
      return { ...state, status: 'disconnected', disconnectedAt: event.data.disconnectedAt };
    case 'OAuthAccountBound': {
      // a re-authorization: the owner's label stays, the platform's name is the nickname
      const d = event.data;
      return {
        ...state,
        status: d.status,
        platformUserId: d.platformUserId,
        nickname: d.displayName,
        credentials: d.tokens,
        healthScore: d.healthScore,
        healthLevel: d.healthLevel,
        verifiedAt: d.boundAt,
        credentialsRotatedAt: d.boundAt,
        oauth: { expiresAt: d.expiresAt, issuedAt: d.boundAt, scope: d.scope },
      };
    }
    case 'OAuthTokensRefreshed': {
      const d = event.data;
      const scope = state.oauth?.scope ?? '';
      return { ...state, credentials: d.tokens, credentialsRotatedAt: d.refreshedAt, oauth: { expiresAt: d.expiresAt, issuedAt: d.refreshedAt, scope } };
    }
  }
}

export const platformAccountDecider: Decider<PlatformAccountState, PlatformAccountCommand, PlatformAccountEvent> = {
  initialState,
  decide,
  evolve,
};

/**
 * The binding the command handler uses: stream `platform_account-{accountId}`.
 * The stream holds lifecycle facts only (verification and health append only
 * on a change), but an account lives for years: snapshots keep loads short.
 */
export const platformAccountAggregate: Aggregate<PlatformAccountState, PlatformAccountCommand, PlatformAccountEvent> = {
  name: 'platform_account',
  streamName: platformAccountStream,
  decider: platformAccountDecider,
  events: platformAccountEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};
