import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { userAggregate } from '../write-model/user/decider.js';
import type { UserEvent } from '../write-model/user/events.js';
import { phoneCodeRefusal } from '../write-model/user/phone.js';
import { smsMfaOn, type UserState } from '../write-model/user/state.js';
import { loadExistingUser } from './load-user.js';
import type { PasswordHasher } from './ports/password-hasher.js';
import type { SecretBox } from './ports/secret-box.js';
import {
  type CodeAttempts,
  type CodeSendLimits,
  codeNumber,
  generateSmsCode,
  hashSmsCode,
  maskPhone,
  requestCodeSms,
  sameDigest,
  throttleCodeSend,
} from './sms-codes.js';

/**
 * The user's phone number (PUT / POST verify / DELETE /users/me/phone) and
 * SMS as a second factor (POST / DELETE /users/mfa/sms).
 *
 * - Verification: the number is normalised to E.164, a 6-digit code is sent
 *   by SMS (body sealed) and PhoneVerificationStarted records its HMAC and
 *   expiry (SMS_CODE_TTL_MINUTES); the code typed back records
 *   PhoneNumberVerified. A code takes SMS_CODE_MAX_ATTEMPTS wrong tries
 *   (counted in Redis per code), then a new one must be asked for.
 * - The SMS factor needs a verified number and the password, like turning
 *   TOTP on or off.
 *
 * Refusals are PhoneRefusal with a reason (the routes make them 403 / 409).
 */

export const PHONE_REFUSALS = [
  'phone_code_invalid',
  'phone_code_expired',
  'phone_code_attempts_exceeded',
  'phone_verified',
  'phone_not_verified',
  'sms_mfa_enabled',
  'password_invalid',
] as const;
export type PhoneRefusalReason = (typeof PHONE_REFUSALS)[number];

/** A wrong factor (403) as against a state that does not allow the step (409). */
export const PHONE_CONFLICTS: ReadonlySet<PhoneRefusalReason> = new Set(['phone_verified', 'phone_not_verified', 'sms_mfa_enabled']);

const MESSAGES: Record<PhoneRefusalReason, string> = {
  phone_code_invalid: 'the code is not valid',
  phone_code_expired: 'the code has expired: ask for a new one',
  phone_code_attempts_exceeded: 'too many wrong codes: ask for a new one',
  phone_verified: 'this number is verified already',
  phone_not_verified: 'verify a phone number first (PUT /users/me/phone)',
  sms_mfa_enabled: 'SMS is a second factor of this account: turn it off first (DELETE /users/mfa/sms)',
  password_invalid: 'the password is wrong',
};

export class PhoneRefusal extends Error {
  override readonly name = 'PhoneRefusal';
  constructor(readonly reason: PhoneRefusalReason) {
    super(MESSAGES[reason]);
  }
}

function refuse(reason: PhoneRefusalReason): never {
  throw new PhoneRefusal(reason);
}

/** A decider's CONFLICT / PERMISSION_DENIED with a reason of ours, as the refusal. */
function mapDomain(error: unknown): never {
  if (error instanceof DomainError) {
    const reason = (error.details as { reason?: unknown } | undefined)?.reason;
    if (typeof reason === 'string' && (PHONE_REFUSALS as readonly string[]).includes(reason)) refuse(reason as PhoneRefusalReason);
  }
  throw error;
}

export interface PhoneDeps {
  store: EventStore;
  secretBox: SecretBox;
  /** smsCodeKey(JWT_SECRET) */
  codeKey: Buffer;
  limits: CodeSendLimits;
  attempts: CodeAttempts;
  defaultRegion: string;
  ttlMinutes: number;
  now?: () => Date;
}

export interface VerificationSent {
  phone: string;
  /** the number as shown back: masked */
  masked: string;
  expiresAt: string;
  messageId: string;
  result: HandleResult<UserState, UserEvent>;
}

/**
 * Sends a code to the number (CodeNumberError for one that is no SMS
 * destination; CodeThrottledError when too soon). Refused before anything is
 * sent: the number verified already, or SMS a factor of the account.
 */
export async function startPhoneVerification(
  deps: PhoneDeps,
  userId: string,
  phoneInput: string,
  context: CommandContext,
  expectedRevision?: bigint,
): Promise<VerificationSent> {
  const now = deps.now?.() ?? new Date();
  const number = codeNumber(phoneInput, deps.defaultRegion);
  const loaded = await loadExistingUser(deps.store, userId, expectedRevision);
  if (loaded.state.phone?.e164 === number.e164) refuse('phone_verified');
  if (smsMfaOn(loaded.state)) refuse('sms_mfa_enabled');
  await throttleCodeSend(deps.limits, userId);
  const code = generateSmsCode();
  const expiresAt = new Date(now.getTime() + deps.ttlMinutes * 60_000).toISOString();
  // recorded before the SMS is asked for: a code that could not be recorded is never sent
  const result = await handle(
    deps.store,
    userAggregate,
    userId,
    {
      type: 'StartPhoneVerification',
      userId,
      phoneE164: number.e164,
      codeHash: hashSmsCode(deps.codeKey, 'phone_verification', userId, number.e164, code),
      expiresAt,
      now: now.toISOString(),
    },
    { context, loaded, expectedRevision },
  ).catch(mapDomain);
  const messageId = await requestCodeSms(
    { store: deps.store, secretBox: deps.secretBox, now: () => now },
    { userId, phoneE164: number.e164, purpose: 'phone_verification', code, ttlMinutes: deps.ttlMinutes },
    context,
  );
  return { phone: number.e164, masked: maskPhone(number.e164), expiresAt, messageId, result };
}

/** The code typed back: PhoneNumberVerified, or a refusal (a wrong one counted against the code). */
export async function verifyPhoneNumber(deps: PhoneDeps, userId: string, code: string, context: CommandContext): Promise<HandleResult<UserState, UserEvent>> {
  const now = deps.now?.() ?? new Date();
  const loaded = await loadExistingUser(deps.store, userId);
  const pending = loaded.state.phoneVerification;
  if (pending === null) refuse('phone_code_invalid');
  if (!(await deps.attempts.peek(pending.codeHash)).allowed) refuse('phone_code_attempts_exceeded');
  const codeHash = hashSmsCode(deps.codeKey, 'phone_verification', userId, pending.phoneE164, code);
  if (!sameDigest(codeHash, pending.codeHash)) {
    await deps.attempts.hit(pending.codeHash);
    refuse('phone_code_invalid');
  }
  const refusal = phoneCodeRefusal(loaded.state, codeHash, now.getTime());
  if (refusal !== null) refuse(refusal);
  return handle(deps.store, userAggregate, userId, { type: 'VerifyPhoneNumber', userId, codeHash, now: now.toISOString() }, { context, loaded }).catch(
    mapDomain,
  );
}

/** expectedRevision: the caller's If-Match (the user stream's revision); a stale one is refused, nothing to drop included. */
export function removePhoneNumber(
  store: EventStore,
  userId: string,
  context: CommandContext,
  options: { expectedRevision?: bigint | undefined; now?: Date } = {},
): Promise<HandleResult<UserState, UserEvent>> {
  const now = options.now ?? new Date();
  return handle(
    store,
    userAggregate,
    userId,
    { type: 'RemovePhoneNumber', userId, now: now.toISOString() },
    { context, expectedRevision: options.expectedRevision },
  ).catch(mapDomain);
}

/** SMS codes as a second factor: the password again, and a verified number. */
export async function enableSmsMfa(
  deps: { store: EventStore; passwordHasher: PasswordHasher },
  userId: string,
  password: string,
  context: CommandContext,
  now = new Date(),
): Promise<HandleResult<UserState, UserEvent>> {
  const loaded = await loadExistingUser(deps.store, userId);
  if (!(await deps.passwordHasher.verify(loaded.state.account!.passwordHash, password))) refuse('password_invalid');
  if (loaded.state.phone === null) refuse('phone_not_verified');
  return handle(deps.store, userAggregate, userId, { type: 'EnableSmsMfa', userId, now: now.toISOString() }, { context, loaded }).catch(mapDomain);
}

/** SMS codes no longer a second factor: the password again. Off already: no events. expectedRevision: the caller's If-Match, checked first. */
export async function disableSmsMfa(
  deps: { store: EventStore; passwordHasher: PasswordHasher },
  userId: string,
  password: string,
  context: CommandContext,
  options: { expectedRevision?: bigint | undefined; now?: Date } = {},
): Promise<HandleResult<UserState, UserEvent>> {
  const now = options.now ?? new Date();
  const loaded = await loadExistingUser(deps.store, userId, options.expectedRevision);
  if (!(await deps.passwordHasher.verify(loaded.state.account!.passwordHash, password))) refuse('password_invalid');
  return handle(
    deps.store,
    userAggregate,
    userId,
    { type: 'DisableSmsMfa', userId, now: now.toISOString() },
    { context, loaded, expectedRevision: options.expectedRevision },
  ).catch(mapDomain);
}

/** An admin clears every second factor of the user (MfaReset{by, reason}); nothing on: no events. */
export function resetMfa(
  store: EventStore,
  input: { userId: string; by: string; reason: string },
  context: CommandContext,
  options: { expectedRevision?: bigint; now?: Date } = {},
): Promise<HandleResult<UserState, UserEvent>> {
  const now = options.now ?? new Date();
  return handle(
    store,
    userAggregate,
    input.userId,
    { type: 'ResetMfa', ...input, now: now.toISOString() },
    { context, ...(options.expectedRevision !== undefined ? { expectedRevision: options.expectedRevision } : {}) },
  );
}
