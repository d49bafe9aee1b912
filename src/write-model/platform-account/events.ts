import { z } from 'zod';
import type { SealedSecret } from '../core/sealed-secret.js';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The PlatformAccount aggregate's events, stream
 * `platform_account-{accountId}`. Times are ISO-8601 strings.
 *
 * One abstraction for every platform: `platform` is an id such as
 * 'xiaohongshu' or 'qidian'; which platforms exist is the platform
 * registry's business, outside the write model. Every event names its
 * account, owner and platform so a reaction (pause the workflows, notify the
 * owner) never has to look anything up.
 */

/** Credentials (cookies, tokens), sealed: see core/sealed-secret.ts. */
export type SealedCredentials = SealedSecret;

/** Why an account stopped working: a closed list, so reactions and the UI can act on it. */
export const INVALIDATION_REASONS = ['login_wall', 'captcha', 'credentials_expired', 'banned', 'user_reported'] as const;
export type InvalidationReason = (typeof INVALIDATION_REASONS)[number];

/**
 * `pending_verification`: connected (or reconnected), not yet checked on the
 * platform. `active`: verified. `invalid`: the platform refused it (see the
 * reason). `disconnected`: final.
 */
export type AccountStatus = 'pending_verification' | 'active' | 'invalid' | 'disconnected';

/** A coarse reading of the health score, for read models and alerts. */
export const HEALTH_LEVELS = ['healthy', 'degraded', 'critical'] as const;
export type HealthLevel = (typeof HEALTH_LEVELS)[number];

export interface AccountRef {
  accountId: string;
  ownerId: string;
  platform: string;
}

export interface PlatformAccountConnectedData extends AccountRef {
  /** the account's id on the platform; null until verification tells it */
  platformUserId: string | null;
  /** the owner's label for the account */
  displayName: string;
  credentials: SealedCredentials;
  /** the browser the credentials were taken with (cookies are often bound to it) */
  userAgent: string | null;
  status: 'pending_verification';
  /** a new account starts fully healthy (health_score starts at 100) */
  healthScore: number;
  healthLevel: HealthLevel;
  connectedAt: string;
}

/** The platform accepted the credentials. */
export interface AccountVerifiedData extends AccountRef {
  platformUserId: string;
  /** the nickname the platform shows */
  nickname: string;
  previousStatus: AccountStatus;
  /** the user who asked; null when a worker verified */
  requestedBy: string | null;
  verifiedAt: string;
}

/** A worker measured the account's health and the score moved. Does not change the status. */
export interface AccountHealthChangedData extends AccountRef {
  score: number;
  previousScore: number;
  level: HealthLevel;
  previousLevel: HealthLevel;
  changedAt: string;
}

/** The account no longer works on the platform; workflows using it must stop. */
export interface AccountInvalidatedData extends AccountRef {
  reason: InvalidationReason;
  detail: string | null;
  /** 'verification': a VerifyAccount outcome; 'report': an InvalidateAccount */
  source: 'verification' | 'report';
  previousStatus: AccountStatus;
  /** the reason recorded before, when the account was already invalid for another one */
  previousReason: InvalidationReason | null;
  /** the user who reported or asked for the verification; null for a worker */
  requestedBy: string | null;
  invalidatedAt: string;
}

/**
 * New sealed credentials. This is also the reconnect: an invalid account
 * goes back to `pending_verification` (`status`); otherwise the status stays.
 */
export interface AccountCredentialsRotatedData extends AccountRef {
  credentials: SealedCredentials;
  userAgent: string | null;
  previousKeyId: string;
  previousStatus: AccountStatus;
  status: Exclude<AccountStatus, 'invalid' | 'disconnected'>;
  requestedBy: string;
  rotatedAt: string;
}

/** The owner's label changed. */
export interface PlatformAccountRenamedData extends AccountRef {
  displayName: string;
  previousDisplayName: string;
  requestedBy: string;
  renamedAt: string;
}

/** Final: the account is no longer used and takes no command. */
export interface PlatformAccountDisconnectedData extends AccountRef {
  previousStatus: AccountStatus;
  /** the owner; null when the system disconnected it (e.g. the owner's account is removed) */
  requestedBy: string | null;
  disconnectedAt: string;
}

/**
 * The owner authorized us on an open platform (OAuth 2.0): the tokens the
 * code was exchanged for, sealed. With `previousStatus` null it makes the
 * account (active at once: the platform vouched for the user); otherwise it
 * re-authorizes the account of the same platform user — new tokens, active
 * again — and the owner's label stays (`displayName` then only updates the
 * nickname). How the account is bound from then on: `oauth`.
 */
export interface OAuthAccountBoundData extends AccountRef {
  platformUserId: string;
  /** the name the platform shows for the user; a new account's label too */
  displayName: string;
  /** JSON `{ accessToken, refreshToken }`, sealed with the account id as context */
  tokens: SealedCredentials;
  /** when the access token expires */
  expiresAt: string;
  /** what the platform granted, space-separated */
  scope: string;
  status: 'active';
  /** null: the account is new; otherwise its status before the re-authorization */
  previousStatus: AccountStatus | null;
  /** a new account starts at 100; a re-authorization carries the score it had */
  healthScore: number;
  healthLevel: HealthLevel;
  boundAt: string;
}

/** The refresh job swapped the tokens for new ones (the refresh token rotates with them). */
export interface OAuthTokensRefreshedData extends AccountRef {
  tokens: SealedCredentials;
  expiresAt: string;
  previousExpiresAt: string;
  refreshedAt: string;
}

export type PlatformAccountEvent =
  | DomainEvent<'PlatformAccountConnected', PlatformAccountConnectedData>
  | DomainEvent<'AccountVerified', AccountVerifiedData>
  | DomainEvent<'AccountHealthChanged', AccountHealthChangedData>
  | DomainEvent<'AccountInvalidated', AccountInvalidatedData>
  | DomainEvent<'AccountCredentialsRotated', AccountCredentialsRotatedData>
  | DomainEvent<'PlatformAccountRenamed', PlatformAccountRenamedData>
  | DomainEvent<'PlatformAccountDisconnected', PlatformAccountDisconnectedData>
  | DomainEvent<'OAuthAccountBound', OAuthAccountBoundData>
  | DomainEvent<'OAuthTokensRefreshed', OAuthTokensRefreshedData>;

export type PlatformAccountEventType = PlatformAccountEvent['type'];

// ---------------------------------------------------------------- decoding

const accountRef = { accountId: z.string(), ownerId: z.string(), platform: z.string() };
const sealed = z.object({ keyId: z.string(), iv: z.string(), tag: z.string(), ciphertext: z.string() });
const accountStatus = z.enum(['pending_verification', 'active', 'invalid', 'disconnected']);
const healthLevelSchema = z.enum(HEALTH_LEVELS);
const invalidationReason = z.enum(INVALIDATION_REASONS);

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const platformAccountEvents = eventCodec<PlatformAccountEvent>({
  PlatformAccountConnected: {
    schema: z.object({
      ...accountRef,
      platformUserId: z.string().nullable(),
      displayName: z.string(),
      credentials: sealed,
      userAgent: z.string().nullable(),
      status: z.literal('pending_verification'),
      healthScore: z.number().int(),
      healthLevel: healthLevelSchema,
      connectedAt: z.string(),
    }),
  },
  AccountVerified: {
    schema: z.object({
      ...accountRef,
      platformUserId: z.string(),
      nickname: z.string(),
      previousStatus: accountStatus,
      requestedBy: z.string().nullable(),
      verifiedAt: z.string(),
    }),
  },
  AccountHealthChanged: {
    schema: z.object({
      ...accountRef,
      score: z.number().int(),
      previousScore: z.number().int(),
      level: healthLevelSchema,
      previousLevel: healthLevelSchema,
      changedAt: z.string(),
    }),
  },
  AccountInvalidated: {
    schema: z.object({
      ...accountRef,
      reason: invalidationReason,
      detail: z.string().nullable(),
      source: z.enum(['verification', 'report']),
      previousStatus: accountStatus,
      previousReason: invalidationReason.nullable(),
      requestedBy: z.string().nullable(),
      invalidatedAt: z.string(),
    }),
  },
  AccountCredentialsRotated: {
    schema: z.object({
      ...accountRef,
      credentials: sealed,
      userAgent: z.string().nullable(),
      previousKeyId: z.string(),
      previousStatus: accountStatus,
      status: z.enum(['pending_verification', 'active']),
      requestedBy: z.string(),
      rotatedAt: z.string(),
    }),
  },
  PlatformAccountRenamed: {
    schema: z.object({ ...accountRef, displayName: z.string(), previousDisplayName: z.string(), requestedBy: z.string(), renamedAt: z.string() }),
  },
  PlatformAccountDisconnected: {
    schema: z.object({ ...accountRef, previousStatus: accountStatus, requestedBy: z.string().nullable(), disconnectedAt: z.string() }),
  },
  OAuthAccountBound: {
    schema: z.object({
      ...accountRef,
      platformUserId: z.string(),
      displayName: z.string(),
      tokens: sealed,
      expiresAt: z.string(),
      scope: z.string(),
      status: z.literal('active'),
      previousStatus: accountStatus.nullable(),
      healthScore: z.number().int(),
      healthLevel: healthLevelSchema,
      boundAt: z.string(),
    }),
  },
  OAuthTokensRefreshed: {
    schema: z.object({ ...accountRef, tokens: sealed, expiresAt: z.string(), previousExpiresAt: z.string(), refreshedAt: z.string() }),
  },
});
