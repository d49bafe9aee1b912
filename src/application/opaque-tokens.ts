import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Opaque tokens (refresh, password reset): the caller gets the token, events and
 * tables only its sha256. 32 random bytes leave nothing to guess, so a plain,
 * unsalted hash is enough and lets a token be looked up by its hash.
 */
export function generateOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** sha256, lower-case hex: the 64 characters the User decider requires. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `token` hashes to `expectedHash`, without leaking where they differ. */
export function tokenMatchesHash(token: string, expectedHash: string): boolean {
  const actual = Buffer.from(hashToken(token), 'utf8');
  const expected = Buffer.from(expectedHash, 'utf8');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
