import { randomBytes } from 'node:crypto';
import { hashToken, tokenMatchesHash } from '../../application/opaque-tokens.js';

/**
 * Personal API keys as their holders see them: `ck_live_<keyId>_<secret>`,
 * where keyId is 24 hex characters (96 random bits, the `api_key-{keyId}`
 * stream) and the secret 43 base64url characters (256 random bits). The
 * recognisable start (`ck_live_`) lets secret scanners and people spot a key;
 * the id lets the API find its stream without a lookup table. Only
 * sha256(token) is stored: with 256 random bits nothing is left to guess, so
 * an unsalted hash is enough (as for refresh tokens).
 */

export const API_KEY_TOKEN_PREFIX = 'ck_live_';

const TOKEN = /^ck_live_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;

export interface IssuedApiKeyToken {
  keyId: string;
  /** shown to its holder once, never stored */
  token: string;
  /** sha256 hex of the token: what the key's events keep */
  secretHash: string;
  /** `ck_live_<keyId>`: not secret, shown in lists */
  prefix: string;
}

export function issueApiKeyToken(): IssuedApiKeyToken {
  const keyId = randomBytes(12).toString('hex');
  const token = `${API_KEY_TOKEN_PREFIX}${keyId}_${randomBytes(32).toString('base64url')}`;
  return { keyId, token, secretHash: hashToken(token), prefix: apiKeyPrefix(keyId) };
}

export function apiKeyPrefix(keyId: string): string {
  return `${API_KEY_TOKEN_PREFIX}${keyId}`;
}

/** Whether the text looks like an API key at all (`ck_` …): such a credential is never taken for a JWT. */
export function looksLikeApiKey(text: string): boolean {
  return text.startsWith('ck_');
}

/** The key id of a well-formed token; null for anything else. */
export function parseApiKeyToken(text: string): { keyId: string } | null {
  const match = TOKEN.exec(text);
  return match ? { keyId: match[1]! } : null;
}

/** Whether the token hashes to the stored hash (constant time). */
export function apiKeyTokenMatches(token: string, secretHash: string): boolean {
  return tokenMatchesHash(token, secretHash);
}
