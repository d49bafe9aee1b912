import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * A personal API key's events, stream `api_key-{keyId}`: its lifecycle only
 * (created, revoked) — at most two events, whatever the key is used for.
 * The key itself never enters an event: only the sha256 of the whole token
 * (`secretHash`) and its non-secret prefix (`ck_live_<keyId>`). Read models
 * must never project `secretHash`.
 *
 * Its use is recorded apart, at most once a day (usage.ts, stream
 * `api_key_usage-{keyId}_{YYYYMMDD}`): no stream grows with the requests a
 * key makes.
 */

/**
 * What a key may do (docs/http-api.md, "API keys"): `read` the GET routes,
 * `collect` start collections (run workflows, one-off collections),
 * `export` the export downloads, `manage` every other change (accounts,
 * workflows, trackings, deletions, batches). A session token has them all.
 */
export const API_KEY_SCOPES = ['read', 'collect', 'export', 'manage'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface ApiKeyCreatedData {
  keyId: string;
  userId: string;
  name: string;
  /** in API_KEY_SCOPES order, each once */
  scopes: ApiKeyScope[];
  /** the token's recognisable, non-secret start: `ck_live_<keyId>` */
  prefix: string;
  /** sha256 hex of the whole token */
  secretHash: string;
  /** null: never expires */
  expiresAt: string | null;
  createdAt: string;
}

export interface ApiKeyRevokedData {
  keyId: string;
  userId: string;
  revokedAt: string;
}

export type ApiKeyEvent = DomainEvent<'ApiKeyCreated', ApiKeyCreatedData> | DomainEvent<'ApiKeyRevoked', ApiKeyRevokedData>;

/** The day a key was first used (in the quota time zone); one per key and day. */
export interface ApiKeyUsedData {
  keyId: string;
  userId: string;
  /** YYYY-MM-DD */
  day: string;
  usedAt: string;
}

export type ApiKeyUsageEvent = DomainEvent<'ApiKeyUsed', ApiKeyUsedData>;

// ---------------------------------------------------------------- decoding

const scope = z.enum(API_KEY_SCOPES);

/** The decode boundary of the api_key streams (see core/event-codec.ts). */
export const apiKeyEvents = eventCodec<ApiKeyEvent>({
  ApiKeyCreated: {
    schema: z.object({
      keyId: z.string(),
      userId: z.string(),
      name: z.string(),
      scopes: z.array(scope),
      prefix: z.string(),
      secretHash: z.string(),
      expiresAt: z.string().nullable(),
      createdAt: z.string(),
    }),
  },
  ApiKeyRevoked: { schema: z.object({ keyId: z.string(), userId: z.string(), revokedAt: z.string() }) },
});

/** The decode boundary of the api_key_usage streams. */
export const apiKeyUsageEvents = eventCodec<ApiKeyUsageEvent>({
  ApiKeyUsed: { schema: z.object({ keyId: z.string(), userId: z.string(), day: z.string(), usedAt: z.string() }) },
});
