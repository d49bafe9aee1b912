import { DomainError } from '../core/domain-error.js';

/**
 * Secrets reach the deciders hashed; anything else is a VALIDATION_ERROR, a
 * guard against an adapter passing a secret in clear. `got` is left out of
 * the details: it could be the secret itself.
 */

const SHA256_HEX = /^[0-9a-f]{64}$/;
const ARGON2ID = /^\$argon2id\$\S+$/;

/** A sha256 hex digest (opaque refresh and reset tokens). */
export function requireTokenHash(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) {
    throw new DomainError('VALIDATION_ERROR', `${field} must be a sha256 hex digest`, { field });
  }
  return value;
}

/** An argon2id PHC string. */
export function requirePasswordHash(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ARGON2ID.test(value)) {
    throw new DomainError('VALIDATION_ERROR', `${field} must be an argon2id hash`, { field });
  }
  return value;
}
