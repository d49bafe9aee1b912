import type { InvalidationReason, SealedCredentials } from './events.js';

/**
 * Commands of the PlatformAccount aggregate. Each names its account (the
 * stream is `platform_account-{accountId}`) and carries `now` (ISO-8601).
 *
 * Who asks: a user command carries `requestedBy` (the user id from the
 * access token) and is refused unless it is the owner. Where a worker may
 * send the same command, `requestedBy` is `null` — explicitly: a missing
 * value is refused like a stranger, never taken for the system.
 *
 * The adapters seal credentials before a command is built; no command has
 * a field for clear text.
 */

/** Add an account. The requester is the owner (the route takes ownerId from the token). */
export interface ConnectPlatformAccount {
  type: 'ConnectPlatformAccount';
  accountId: string;
  ownerId: string;
  /** a platform id, `^[a-z][a-z0-9_]*$`; the route checks it against the platform registry */
  platform: string;
  platformUserId: string | null;
  displayName: string;
  credentials: SealedCredentials;
  userAgent?: string;
  now: string;
}

/** What the platform adapter found when it tried the credentials. */
export type VerificationOutcome = { ok: true; platformUserId: string; nickname: string } | { ok: false; reason: InvalidationReason; detail?: string };

/** Record the outcome of a verification the adapter ran (by the owner, or a worker with null). */
export interface VerifyAccount {
  type: 'VerifyAccount';
  accountId: string;
  requestedBy: string | null;
  outcome: VerificationOutcome;
  now: string;
}

/** A worker's health reading: an integer 0..100. System only. */
export interface RecordAccountHealth {
  type: 'RecordAccountHealth';
  accountId: string;
  score: number;
  now: string;
}

/** The account stopped working (a worker saw it, or the owner reports it). */
export interface InvalidateAccount {
  type: 'InvalidateAccount';
  accountId: string;
  requestedBy: string | null;
  reason: InvalidationReason;
  detail?: string;
  now: string;
}

/** The owner gives new credentials; on an invalid account this is the reconnect. */
export interface RotateAccountCredentials {
  type: 'RotateAccountCredentials';
  accountId: string;
  requestedBy: string;
  credentials: SealedCredentials;
  /** replaces the stored one with the credentials (absent: none) */
  userAgent?: string;
  now: string;
}

/** The owner relabels the account. */
export interface RenamePlatformAccount {
  type: 'RenamePlatformAccount';
  accountId: string;
  requestedBy: string;
  displayName: string;
  now: string;
}

export interface DisconnectPlatformAccount {
  type: 'DisconnectPlatformAccount';
  accountId: string;
  /** the owner, or null for the system */
  requestedBy: string | null;
  now: string;
}

/**
 * Bind (or re-authorize) an account through OAuth: the route exchanged the
 * code and asked the platform who the user is. The requester is the owner.
 * The account id is named after the owner, platform and platform user
 * (application/oauth-accounts.ts), so the same platform user bound again
 * lands on the same account.
 */
export interface BindOAuthAccount {
  type: 'BindOAuthAccount';
  accountId: string;
  ownerId: string;
  platform: string;
  platformUserId: string;
  /** the platform's name for the user */
  displayName: string;
  /** access and refresh token, sealed */
  tokens: SealedCredentials;
  expiresAt: string;
  scope: string;
  now: string;
}

/** The refresh job's new tokens. System only. */
export interface RecordOAuthTokensRefreshed {
  type: 'RecordOAuthTokensRefreshed';
  accountId: string;
  tokens: SealedCredentials;
  expiresAt: string;
  now: string;
}

export type PlatformAccountCommand =
  | BindOAuthAccount
  | RecordOAuthTokensRefreshed
  | ConnectPlatformAccount
  | VerifyAccount
  | RecordAccountHealth
  | InvalidateAccount
  | RotateAccountCredentials
  | RenamePlatformAccount
  | DisconnectPlatformAccount;
