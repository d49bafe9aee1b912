import type { AccountStatus, HealthLevel, InvalidationReason, SealedCredentials } from './events.js';

export interface NoAccount {
  status: 'none';
}

export interface InvalidationRecord {
  reason: InvalidationReason;
  detail: string | null;
  at: string;
}

/** How an OAuth-bound account's tokens stand (the tokens themselves are `credentials`, sealed). */
export interface OAuthBinding {
  /** when the access token expires */
  expiresAt: string;
  /** when the current tokens were issued (bound or refreshed) */
  issuedAt: string;
  scope: string;
}

export interface ConnectedAccount {
  status: AccountStatus;
  accountId: string;
  ownerId: string;
  platform: string;
  /** null until connect or verification tells it */
  platformUserId: string | null;
  displayName: string;
  /** the platform's nickname, set by verification */
  nickname: string | null;
  /** the current sealed credentials; `credentials.keyId` is the key they need */
  credentials: SealedCredentials;
  userAgent: string | null;
  healthScore: number;
  healthLevel: HealthLevel;
  /** the latest invalidation; kept after a reconnect, as history */
  lastInvalidation: InvalidationRecord | null;
  connectedAt: string;
  verifiedAt: string | null;
  healthChangedAt: string | null;
  credentialsRotatedAt: string | null;
  disconnectedAt: string | null;
  /** present only on accounts bound through OAuth; `credentials` then holds the sealed tokens */
  oauth?: OAuthBinding;
}

export type PlatformAccountState = NoAccount | ConnectedAccount;

export function initialState(): PlatformAccountState {
  return { status: 'none' };
}
