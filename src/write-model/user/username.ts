import { DomainError } from '../core/domain-error.js';

/**
 * Usernames: 3 to 30 letters (any script), digits, `_`, `.` and `-`, kept
 * in NFKC and lower case so that look-alike spellings are one name. A letter
 * or digit may carry up to four combining marks (the vowel signs and viramas
 * of Devanagari, Thai or Tamil, an accent NFKC has no single letter for):
 * they belong to it and are not counted. No `@`, so a login can tell a
 * username from an email address.
 */
export const USERNAME_PATTERN = /^(?:[\p{L}\p{N}]\p{M}{0,4}|[_.-]){3,30}$/u;

/**
 * The stored form of a name a user typed (which may still be invalid: see
 * isUsername). NFKC again after lower-casing, which can leave marks out of
 * their canonical order (`İ` lower-cases to `i` and a combining dot).
 */
export function normaliseUsername(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
}

export function isUsername(value: string): boolean {
  return USERNAME_PATTERN.test(value) && value === normaliseUsername(value);
}

/** A normalised, valid username, or VALIDATION_ERROR naming the field. */
export function requireUsername(value: unknown, field = 'username'): string {
  if (typeof value !== 'string' || !isUsername(value)) {
    throw new DomainError(
      'VALIDATION_ERROR',
      `${field} must be 3 to 30 letters (with their combining marks), digits, "_", "." or "-", normalised (NFKC, lower case)`,
      { field },
    );
  }
  return value;
}
