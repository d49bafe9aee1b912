import type { ApiKeyScope } from './events.js';

/** A key as decisions need it. Plain JSON. */
export interface KnownApiKey {
  status: 'active' | 'revoked';
  keyId: string;
  userId: string;
  name: string;
  scopes: ApiKeyScope[];
  prefix: string;
  secretHash: string;
  expiresAt: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export type ApiKeyState = { status: 'none' } | KnownApiKey;

export function initialApiKeyState(): ApiKeyState {
  return { status: 'none' };
}

/** Not revoked and not past its expiry at `nowMs`. */
export function isApiKeyLive(key: KnownApiKey, nowMs: number): boolean {
  return key.status === 'active' && (key.expiresAt === null || Date.parse(key.expiresAt) > nowMs);
}

export type ApiKeyUsageState = { recorded: false } | { recorded: true; keyId: string; userId: string; day: string; usedAt: string };

export function initialApiKeyUsageState(): ApiKeyUsageState {
  return { recorded: false };
}
