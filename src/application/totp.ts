import { createHash, randomBytes } from 'node:crypto';
// otpauth: RFC 4226/6238 in one small, typed ESM package whose only dependency is the audited
// @noble/hashes (on Node it uses node:crypto), released steadily; its validate() answers the step
// delta a code matched, which the once-per-step replay guard needs (otplib v13 splits into six packages).
import { Secret, TOTP } from 'otpauth';

/**
 * TOTP (RFC 6238) as authenticator apps speak it: SHA-1, 6 digits, 30-second
 * steps; a code of the step before or after is accepted too (clock drift).
 * The secret is 20 random bytes (160 bits, RFC 4226's recommendation), shown
 * once as base32 and in an `otpauth://` URI (the QR code's content), then
 * kept only sealed.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** steps either side of now a code may come from */
export const TOTP_DRIFT_STEPS = 1;

/** A code: 6 digits, nothing else (the routes refuse spaces with 422). */
export const TOTP_CODE = /^[0-9]{6}$/;

/** Recovery codes: 16 characters of the base32 alphabet (80 bits), shown in groups of four. */
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
export const RECOVERY_CODE = /^[a-z2-7]{4}(-?[a-z2-7]{4}){3}$/i;

/** A new secret, base32 (what an app takes when typed in). */
export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/…` URI an app scans; `account` is what the app lists under the issuer. */
export function totpUri(secret: string, issuer: string, account: string): string {
  return totp(secret, issuer, account).toString();
}

/**
 * The time step (Unix time / 30 s) the code belongs to, when it is the
 * secret's code of the step at `nowMs` or of one next to it; null otherwise.
 */
export function totpStepOf(secret: string, code: string, nowMs: number): number | null {
  if (!TOTP_CODE.test(code)) return null;
  const delta = totp(secret).validate({ token: code, timestamp: nowMs, window: TOTP_DRIFT_STEPS });
  return delta === null ? null : TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp: nowMs }) + delta;
}

function totp(secret: string, issuer = '', label = 'account'): TOTP {
  return new TOTP({
    issuer,
    label,
    issuerInLabel: issuer !== '',
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** `count` fresh recovery codes, formatted `xxxx-xxxx-xxxx-xxxx`. */
export function generateRecoveryCodes(count: number): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(16);
    // 32 symbols: each byte's low five bits are uniform
    const chars = Array.from(bytes, (b) => RECOVERY_ALPHABET[b & 31]).join('');
    return chars.match(/.{4}/g)!.join('-');
  });
}

/** Lower case, without the dashes and spaces a user may type. */
export function normaliseRecoveryCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase();
}

/** sha256 hex of the normalised code: what the User aggregate keeps. 80 random bits leave nothing to guess. */
export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(normaliseRecoveryCode(code), 'utf8').digest('hex');
}
