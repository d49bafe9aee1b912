import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireText } from '../core/validate.js';
import { E164 } from '../sms-message/events.js';
import type { DisableSmsMfa, EnableSmsMfa, RemovePhoneNumber, ResetMfa, StartPhoneVerification, VerifyPhoneNumber } from './commands.js';
import type { UserEvent } from './events.js';
import { requireTokenHash } from './hashes.js';
import { smsMfaOn, type UserAccount, type UserState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * The User aggregate's phone number and SMS second factor, and the admin's
 * reset of every factor. Codes are made, sent (sealed in the SMS) and
 * counted by the application; the decider sees only a code's HMAC:
 * - StartPhoneVerification: the number in E.164, the code's hash, an expiry
 *   after now. A number verified already is CONFLICT 'phone_verified'; while
 *   SMS is a second factor another number is CONFLICT 'sms_mfa_enabled' (a
 *   stolen session must not move the login codes to its own phone). The
 *   pending hash again is [].
 * - VerifyPhoneNumber: PERMISSION_DENIED 'phone_code_invalid' (nothing
 *   pending, another code — a used code included) or 'phone_code_expired'.
 * - RemovePhoneNumber: CONFLICT 'sms_mfa_enabled' while SMS is a factor;
 *   nothing to remove is [].
 * - EnableSmsMfa: CONFLICT 'phone_not_verified' without a verified number;
 *   on already is []. DisableSmsMfa: off already is [].
 * - ResetMfa (admins; a suspended user too): nothing on (TOTP neither on nor
 *   pending, SMS off) is []; the reason is 1..500 characters.
 */

type Event = UserEvent;

/** details.reason of a refused VerifyPhoneNumber (always PERMISSION_DENIED). */
export const PHONE_CODE_REFUSALS = ['phone_code_invalid', 'phone_code_expired'] as const;
export type PhoneCodeRefusal = (typeof PHONE_CODE_REFUSALS)[number];

export const MAX_MFA_RESET_REASON = 500;

export interface PhoneDecisionContext {
  requireAccount(state: UserState, userId: string): UserAccount;
  requireNotSuspended(state: UserState): void;
}

function requireE164(value: unknown): string {
  if (typeof value !== 'string' || !E164.test(value)) throw invalid('phoneE164 must be a number in E.164 (+8613800138000)', { field: 'phoneE164' });
  return value;
}

/** Why a phone code would be refused, or null (the route asks first to count attempts; the decision asks again). */
export function phoneCodeRefusal(state: UserState, codeHash: string, nowMs: number): PhoneCodeRefusal | null {
  const pending = state.phoneVerification;
  if (pending === null || pending.codeHash !== codeHash) return 'phone_code_invalid';
  if (Date.parse(pending.expiresAt) <= nowMs) return 'phone_code_expired';
  return null;
}

export function startPhoneVerification(command: StartPhoneVerification, state: UserState, check: PhoneDecisionContext): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  const phoneE164 = requireE164(command.phoneE164);
  const codeHash = requireTokenHash(command.codeHash, 'codeHash');
  const expiresAtMs = instant(command.expiresAt, 'expiresAt');
  if (state.phone?.e164 === phoneE164) throw new DomainError('CONFLICT', 'the number is verified already', { reason: 'phone_verified' });
  if (smsMfaOn(state)) {
    throw new DomainError('CONFLICT', 'SMS is a second factor of this account: turn it off before changing the number', { reason: 'sms_mfa_enabled' });
  }
  if (state.phoneVerification?.codeHash === codeHash && state.phoneVerification.phoneE164 === phoneE164) return [];
  if (expiresAtMs <= nowMs) throw invalid('expiresAt must be after now', { field: 'expiresAt' });
  return [{ type: 'PhoneVerificationStarted', data: { userId: account.userId, phoneE164, codeHash, expiresAt: command.expiresAt, startedAt: command.now } }];
}

export function verifyPhoneNumber(command: VerifyPhoneNumber, state: UserState, check: PhoneDecisionContext): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  const codeHash = requireTokenHash(command.codeHash, 'codeHash');
  const refusal = phoneCodeRefusal(state, codeHash, nowMs);
  if (refusal !== null) {
    throw new DomainError('PERMISSION_DENIED', refusal === 'phone_code_expired' ? 'the code has expired: ask for a new one' : 'the code is not valid', {
      reason: refusal,
    });
  }
  return [{ type: 'PhoneNumberVerified', data: { userId: account.userId, phoneE164: state.phoneVerification!.phoneE164, verifiedAt: command.now } }];
}

export function removePhoneNumber(command: RemovePhoneNumber, state: UserState, check: PhoneDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  if (smsMfaOn(state)) {
    throw new DomainError('CONFLICT', 'SMS is a second factor of this account: turn it off before removing the number', { reason: 'sms_mfa_enabled' });
  }
  const number = state.phone?.e164 ?? state.phoneVerification?.phoneE164;
  if (number === undefined) return [];
  return [{ type: 'PhoneNumberRemoved', data: { userId: account.userId, phoneE164: number, removedAt: command.now } }];
}

export function enableSmsMfa(command: EnableSmsMfa, state: UserState, check: PhoneDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  if (state.phone === null) throw new DomainError('CONFLICT', 'verify a phone number first (PUT /users/me/phone)', { reason: 'phone_not_verified' });
  if (smsMfaOn(state)) return [];
  return [{ type: 'SmsMfaEnabled', data: { userId: account.userId, phoneE164: state.phone.e164, enabledAt: command.now } }];
}

export function disableSmsMfa(command: DisableSmsMfa, state: UserState, check: PhoneDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  if (state.smsMfaSince === null) return [];
  return [{ type: 'SmsMfaDisabled', data: { userId: account.userId, disabledAt: command.now } }];
}

export function resetMfa(command: ResetMfa, state: UserState, check: PhoneDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  const by = requireText(command.by, 'by');
  const reason = requireText(command.reason, 'reason');
  if (characterCount(reason) > MAX_MFA_RESET_REASON) throw invalid(`reason must be at most ${MAX_MFA_RESET_REASON} characters`, { field: 'reason' });
  if (state.totp === null && state.smsMfaSince === null) return [];
  return [{ type: 'MfaReset', data: { userId: account.userId, by, reason, resetAt: command.now } }];
}

type PhoneEvent = Extract<
  Event,
  { type: 'PhoneVerificationStarted' | 'PhoneNumberVerified' | 'PhoneNumberRemoved' | 'SmsMfaEnabled' | 'SmsMfaDisabled' | 'MfaReset' }
>;

/** The fold of the phone and SMS-factor events: O(1), in place. */
export function evolvePhone(state: UserState, event: PhoneEvent): UserState {
  switch (event.type) {
    case 'PhoneVerificationStarted': {
      const d = event.data;
      state.phoneVerification = { phoneE164: d.phoneE164, codeHash: d.codeHash, expiresAt: d.expiresAt, startedAt: d.startedAt };
      return state;
    }
    case 'PhoneNumberVerified':
      state.phone = { e164: event.data.phoneE164, verifiedAt: event.data.verifiedAt };
      state.phoneVerification = null;
      return state;
    case 'PhoneNumberRemoved':
      state.phone = null;
      state.phoneVerification = null;
      state.smsMfaSince = null;
      return state;
    case 'SmsMfaEnabled':
      state.smsMfaSince = event.data.enabledAt;
      return state;
    case 'SmsMfaDisabled':
      state.smsMfaSince = null;
      return state;
    case 'MfaReset':
      state.totp = null;
      state.smsMfaSince = null;
      return state;
  }
}
