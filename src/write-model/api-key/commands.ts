import type { ApiKeyScope } from './events.js';

/**
 * Commands of the ApiKey aggregate (stream `api_key-{keyId}`) and of its
 * daily use (stream `api_key_usage-{keyId}_{YYYYMMDD}`). The plan check
 * (api_access) is the application's (src/application/api-keys.ts, through
 * plan-gates.ts): the key's stream cannot see the subscriptions.
 */

/** A new key; the adapter generated the token and passes only its hash. */
export interface CreateApiKey {
  type: 'CreateApiKey';
  keyId: string;
  userId: string;
  name: string;
  scopes: readonly ApiKeyScope[];
  prefix: string;
  secretHash: string;
  /** null or absent: never expires; otherwise after `now` */
  expiresAt?: string | null;
  now: string;
}

export interface RevokeApiKey {
  type: 'RevokeApiKey';
  keyId: string;
  /** the user asking: only the key's own user may revoke it */
  requestedBy: string;
  now: string;
}

export type ApiKeyCommand = CreateApiKey | RevokeApiKey;

/** The key was used on `day` (the first use that day records it; later ones are no-ops). */
export interface RecordApiKeyUse {
  type: 'RecordApiKeyUse';
  keyId: string;
  userId: string;
  /** YYYY-MM-DD in the quota time zone */
  day: string;
  now: string;
}

export type ApiKeyUsageCommand = RecordApiKeyUse;
