import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import type { UserState } from '../write-model/user/state.js';
import { smsMfaOn } from '../write-model/user/state.js';
import type { SecretBox } from './ports/secret-box.js';
import { type CodeAttempts, type CodeSendLimits, generateSmsCode, hashSmsCode, maskPhone, requestCodeSms, sameDigest, throttleCodeSend } from './sms-codes.js';

/**
 * Login codes by SMS, the second step of a login when SMS is a factor of the
 * account (POST /auth/login/mfa/sms-code, then POST /auth/login/mfa).
 *
 * A code belongs to one login challenge (the mfa_token's nonce): its HMAC and
 * expiry are kept in Redis under the nonce for as long as the challenge
 * lives — never in the user stream, which must not grow with every login.
 * A newer code for the challenge replaces the older; the right code is used
 * up at once (deleted), a wrong one counted against it (SMS_CODE_MAX_ATTEMPTS,
 * then it is void). Expired is told apart from wrong while the challenge lives.
 */

export interface StoredLoginCode {
  codeHash: string;
  expiresAtMs: number;
}

/** Where pending login codes wait (Redis: adapters). */
export interface LoginCodeStore {
  put(nonce: string, code: StoredLoginCode, ttlMs: number): Promise<void>;
  get(nonce: string): Promise<StoredLoginCode | null>;
  /** true when this call removed it (the code is used once) */
  take(nonce: string): Promise<boolean>;
}

export interface SmsLoginCodeDeps {
  store: EventStore;
  secretBox: SecretBox;
  codeKey: Buffer;
  codes: LoginCodeStore;
  limits: CodeSendLimits;
  attempts: CodeAttempts;
  ttlMinutes: number;
  now?: () => Date;
}

/** What a login challenge carries that a code is bound to. */
export interface ChallengeRef {
  userId: string;
  nonce: string;
  expiresAtMs: number;
}

/** The result of checking a code against the challenge's pending one. */
export type LoginCodeCheck = 'match' | 'none' | 'mismatch' | 'expired' | 'attempts_exceeded';

/**
 * Sends a code for the challenge to the user's verified number (the caller
 * checked the challenge fits the user, and SMS is a factor: else null).
 * CodeThrottledError when too soon.
 */
export async function sendLoginCode(
  deps: SmsLoginCodeDeps,
  challenge: ChallengeRef,
  state: UserState,
  context: CommandContext,
): Promise<{ masked: string; expiresAt: string } | null> {
  if (!smsMfaOn(state) || state.phone === null) return null;
  const now = deps.now?.() ?? new Date();
  await throttleCodeSend(deps.limits, challenge.userId);
  const code = generateSmsCode();
  const expiresAtMs = Math.min(now.getTime() + deps.ttlMinutes * 60_000, challenge.expiresAtMs);
  await deps.codes.put(
    challenge.nonce,
    { codeHash: hashSmsCode(deps.codeKey, 'login_code', challenge.userId, challenge.nonce, code), expiresAtMs },
    challenge.expiresAtMs - now.getTime() + 1000,
  );
  await requestCodeSms(
    { store: deps.store, secretBox: deps.secretBox, now: () => now },
    { userId: challenge.userId, phoneE164: state.phone.e164, purpose: 'login_code', code, ttlMinutes: deps.ttlMinutes },
    context,
  );
  return { masked: maskPhone(state.phone.e164), expiresAt: new Date(expiresAtMs).toISOString() };
}

/** Compares without using the code up or counting (TOTP may still claim the code). */
export async function checkLoginCode(deps: SmsLoginCodeDeps, challenge: ChallengeRef, code: string): Promise<LoginCodeCheck> {
  const stored = await deps.codes.get(challenge.nonce);
  if (stored === null) return 'none';
  // counted per code: a new code for the challenge starts afresh
  if (!(await deps.attempts.peek(stored.codeHash)).allowed) return 'attempts_exceeded';
  if (!sameDigest(hashSmsCode(deps.codeKey, 'login_code', challenge.userId, challenge.nonce, code), stored.codeHash)) return 'mismatch';
  if (stored.expiresAtMs <= (deps.now?.() ?? new Date()).getTime()) return 'expired';
  return 'match';
}

/** A wrong code against the challenge's pending one. */
export async function countWrongLoginCode(deps: SmsLoginCodeDeps, challenge: ChallengeRef): Promise<void> {
  const stored = await deps.codes.get(challenge.nonce);
  if (stored !== null) await deps.attempts.hit(stored.codeHash);
}

/** Uses the code up; false when a concurrent request took it first. */
export function takeLoginCode(deps: SmsLoginCodeDeps, challenge: ChallengeRef): Promise<boolean> {
  return deps.codes.take(challenge.nonce);
}
